package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/observe"
)

// BenchmarkProxy compares a GET sent straight to a loopback upstream
// (direct) with the same GET through the gateway (gateway: a route, a
// breaker, forwarding fields and a header edit), in one run, so the ratio
// is the figure to read. The client, gateway and upstream share the
// machine.
func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello"))
	}))
	defer up.Close()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: a
    targets: [{url: %q}]
    breaker: {}
routes:
  - {name: api, upstream: a, match: {path_prefix: /api}, strip_prefix: /api, request_headers: {set: {X-Gateway: levee}}}
`, up.URL)), config.Options{})
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	h, _ := p.Handler("public")
	gw := httptest.NewServer(h)
	defer gw.Close()
	// The same gateway with metrics on: per route and target, and the
	// upstream connection pool's (a trace per request).
	m, err := observe.NewProxyMetrics(observe.MetricsOptions{})
	if err != nil {
		b.Fatal(err)
	}
	pm, err := New(cfg, Options{Metrics: m})
	if err != nil {
		b.Fatal(err)
	}
	defer pm.Close()
	hm, _ := pm.Handler("public")
	gwm := httptest.NewServer(hm)
	defer gwm.Close()

	for _, bc := range []struct{ name, url string }{
		{"direct", up.URL + "/users"},
		{"gateway", gw.URL + "/api/users"},
		{"gateway+metrics", gwm.URL + "/api/users"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
			defer client.CloseIdleConnections()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(bc.url)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}
