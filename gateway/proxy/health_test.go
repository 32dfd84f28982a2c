package proxy

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestHealthChecks takes a target out of balancing when its health checks
// fail and back when they pass, and keeps serving through every target
// when none passes. It waits on real probes (every 100ms), in bounded loops.
func TestHealthChecks(t *testing.T) {
	var aSick, bSick atomic.Bool
	target := func(name string, sick *atomic.Bool) string {
		return echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/healthz" {
				if sick.Load() {
					http.Error(w, "sick", http.StatusServiceUnavailable)
				}
				return
			}
			w.Header().Set("X-Upstream", name)
		})
	}
	a, b := target("a", &aSick), target("b", &bSick)
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: pool
    targets: [{url: %q}, {url: %q}]
    health_check: {interval: 100ms, timeout: 80ms, unhealthy_threshold: 2, healthy_threshold: 1}
routes: [{name: all, upstream: pool}]
`, a, b), nil)

	// until sends rounds of 10 requests until one round's targets are
	// exactly want, for at most 5s.
	until := func(what string, want map[string]bool) {
		t.Helper()
		var got map[string]bool
		for range 100 {
			got = map[string]bool{}
			for range 10 {
				resp, _ := get(t, gw.URL+"/")
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: status %d, want 200", what, resp.StatusCode)
				}
				got[resp.Header.Get("X-Upstream")] = true
			}
			if fmt.Sprint(got) == fmt.Sprint(want) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: requests went to %v, want %v", what, got, want)
	}
	until("both healthy", map[string]bool{"a": true, "b": true})
	aSick.Store(true)
	until("a failing its checks", map[string]bool{"b": true})
	bSick.Store(true)
	until("both failing: every target serves", map[string]bool{"a": true, "b": true})
	bSick.Store(false)
	until("b healed", map[string]bool{"b": true})
	aSick.Store(false)
	until("a healed", map[string]bool{"a": true, "b": true})
}
