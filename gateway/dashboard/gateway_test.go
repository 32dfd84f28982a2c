package dashboard_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/dashboard"
	"github.com/levee-go/levee/gateway/proxy"
	"github.com/levee-go/levee/observe"
)

// testGateway is a real proxy on loopback in front of one upstream that
// fails while failing is set, with its metrics and a ProxySource over
// both.
type testGateway struct {
	proxy   *proxy.Proxy
	url     string // the proxy's listener
	failing atomic.Bool
	source  *dashboard.ProxySource
	metrics *observe.ProxyMetrics
}

const gatewayYAML = `
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: app
    targets: [{url: %q}]
    breaker: {failure_rate: 50%%, min_calls: 10, window: 10s, open_duration: 30s}
routes:
  - name: api
    upstream: app
    policies:
      rate_limit: {rate: 1000/s, burst: 1000}
      slo: {objective: 99%%, window: 1h}
`

func newTestGateway(t testing.TB, clk clock.Clock) *testGateway {
	t.Helper()
	g := &testGateway{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.failing.Load() {
			http.Error(w, "broken", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	cfg, err := config.Parse([]byte(fmt.Sprintf(gatewayYAML, up.URL)), config.Options{})
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	m, err := observe.NewProxyMetrics(observe.MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g.metrics = m
	g.proxy, err = proxy.New(cfg, proxy.Options{Clock: clk, Metrics: m, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	h, err := g.proxy.Handler("public")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	g.url = srv.URL
	g.source, err = dashboard.NewProxySource(dashboard.ProxySourceOptions{Config: cfg, Proxy: g.proxy, Metrics: m})
	if err != nil {
		t.Fatalf("NewProxySource: %v", err)
	}
	t.Cleanup(func() { g.source.Close(); srv.Close(); g.proxy.Close() })
	return g
}

// send makes n requests through the gateway and returns how many got each
// status.
func (g *testGateway) send(t testing.TB, n int) map[int]int {
	t.Helper()
	got := map[int]int{}
	for range n {
		resp, err := http.Get(g.url + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got[resp.StatusCode]++
	}
	return got
}
