package admin_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/levee-go/levee/gateway/admin"
	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/proxy"
)

// manyRoutes is a configuration of n routes, each with a rate limit and a
// concurrency limit, over n/10 upstreams of two targets with a breaker.
func manyRoutes(n int) string {
	var b strings.Builder
	b.WriteString("listeners: [{name: public, address: \"127.0.0.1:0\"}]\nupstreams:\n")
	for i := range max(n/10, 1) {
		fmt.Fprintf(&b, "  - name: u%d\n    targets: [{url: \"127.0.0.1:%d\"}, {url: \"127.0.0.2:%d\"}]\n    breaker: {consecutive_failures: 5}\n", i, 10000+i, 10000+i)
	}
	b.WriteString("routes:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: r%d\n    match: {path_prefix: /r%d}\n    upstream: u%d\n    policies: {rate_limit: {rate: 100/s}, concurrency: {max: 10}}\n", i, i, i%max(n/10, 1))
	}
	return b.String()
}

// BenchmarkState measures GET /api/v1/state, the whole answer written, for
// 100 and 1,000 routes (target: ≤ 10 ms for 1,000).
func BenchmarkState(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			cfg, err := config.Parse([]byte(manyRoutes(n)), config.Options{})
			if err != nil {
				b.Fatal(err)
			}
			p, err := proxy.New(cfg, proxy.Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			h := admin.New(admin.Options{Proxy: func() *proxy.Proxy { return p }})
			req := httptest.NewRequest("GET", "/api/v1/state", nil)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
