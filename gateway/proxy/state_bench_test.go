package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee/gateway/config"
)

// BenchmarkProxyWhileStatePolled is the admin API's cost to the data
// plane: a gateway of 1,000 routes proxies GETs to a loopback upstream,
// alone (quiet) and while its State (what GET /api/v1/state serves) is
// read once a second (polled), in one run; the ratio of the two is the
// figure to read.
func BenchmarkProxyWhileStatePolled(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) }))
	defer up.Close()
	var doc strings.Builder
	fmt.Fprintf(&doc, "listeners: [{name: public, address: \"127.0.0.1:0\"}]\nupstreams: [{name: a, targets: [{url: %q}], breaker: {}}]\nroutes:\n", up.URL)
	for r := range 1000 {
		fmt.Fprintf(&doc, "  - {name: r%d, upstream: a, match: {path_prefix: /r%d/}, policies: {rate_limit: {rate: 1000000/s}, concurrency: {max: 1000}}}\n", r, r)
	}
	cfg, err := config.Parse([]byte(doc.String()), config.Options{})
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
	b.Run("state", func(b *testing.B) { // one poll's cost
		b.ReportAllocs()
		for b.Loop() {
			p.State()
		}
	})
	for _, polled := range []bool{false, true, true, false} {
		name := map[bool]string{false: "quiet", true: "polled"}[polled]
		b.Run(name, func(b *testing.B) {
			stop := make(chan struct{})
			var wg sync.WaitGroup
			if polled {
				wg.Go(func() {
					tick := time.NewTicker(time.Second)
					defer tick.Stop()
					for {
						p.State()
						select {
						case <-stop:
							return
						case <-tick.C:
						}
					}
				})
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
			defer client.CloseIdleConnections()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(gw.URL + "/r500/x")
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
			close(stop)
			wg.Wait()
		})
	}
}
