package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/levee-go/levee/gateway/config"
)

// BenchmarkCallPolicies compares, in one run, a GET through a route with
// no call policy (plain) and through routes with a retry policy and budget
// (retry), and with retry, per-try timeout, hedging and a stale fallback
// (all) on a healthy upstream: the ratios are the cost of the policies
// when nothing fails.
func BenchmarkCallPolicies(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello"))
	}))
	defer up.Close()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: a, targets: [{url: %q}], breaker: {}}]
routes:
  - {name: plain, upstream: a, match: {path_prefix: /plain}}
  - name: retry
    upstream: a
    match: {path_prefix: /retry}
    policies:
      retry: {budget: {}}
  - name: all
    upstream: a
    match: {path_prefix: /all}
    policies:
      retry: {per_try_timeout: 1s, budget: {}}
      hedge: {delay: 1s}
      fallback: {stale_max_age: 1m}
`, up.URL)), config.Options{})
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	gw := httptest.NewServer(p)
	defer gw.Close()
	for _, name := range []string{"plain", "retry", "all"} {
		b.Run(name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
			defer client.CloseIdleConnections()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(gw.URL + "/" + name)
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
