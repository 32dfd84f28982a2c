package proxy

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/clock/clocktest"
)

// TestBreakerTripsAndRecovers drives an upstream that fails every request
// until the breaker opens, checks the open breaker answers 503 with
// Retry-After without calling the upstream, then heals the upstream, steps
// the fake clock past open_duration and checks traffic flows again.
func TestBreakerTripsAndRecovers(t *testing.T) {
	var healthy atomic.Bool
	var hits atomic.Int64
	up := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if !healthy.Load() {
			http.Error(w, "broken", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("ok"))
	})
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	p, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: a
    targets: [{url: %q}]
    breaker: {failure_rate: 50%%, min_calls: 5, window: 10s, open_duration: 5s, half_open_probes: 1}
routes: [{name: all, upstream: a}]
`, up), clk)
	br := p.Breaker("a")

	for i := range 5 {
		resp, _ := get(t, gw.URL+"/")
		if resp.StatusCode != http.StatusInternalServerError || resp.Header.Get(ReasonHeader) != "" {
			t.Fatalf("request %d: status %d, %s %q; want the upstream's own 500", i+1, resp.StatusCode, ReasonHeader, resp.Header.Get(ReasonHeader))
		}
	}
	if br.State() != breaker.Open {
		t.Fatalf("after 5 failures of 5, breaker is %v, want open", br.State())
	}

	before := hits.Load()
	resp, body := get(t, gw.URL+"/")
	checkProblem(t, resp, body, http.StatusServiceUnavailable, ReasonBreakerOpen)
	if got := resp.Header.Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After = %q, want 5 (the open duration)", got)
	}
	if hits.Load() != before {
		t.Errorf("the open breaker let a request reach the upstream")
	}

	healthy.Store(true)
	clk.Advance(5 * time.Second)
	resp, body = get(t, gw.URL+"/")
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Fatalf("after open_duration, the probe got %d %q, want 200 ok", resp.StatusCode, body)
	}
	if br.State() != breaker.Closed {
		t.Fatalf("after a successful probe, breaker is %v, want closed", br.State())
	}
	for i := range 5 {
		if resp, _ := get(t, gw.URL+"/"); resp.StatusCode != http.StatusOK {
			t.Errorf("request %d after recovery: status %d, want 200", i+1, resp.StatusCode)
		}
	}
}

// TestBreakerCountsGatewayFailures checks that failures the gateway itself
// answers (a refused connection, 502) trip the breaker too, and that
// client errors (4xx) do not.
func TestBreakerCountsGatewayFailures(t *testing.T) {
	up := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
	})
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	p, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: a
    targets: [{url: %q}]
    breaker: {failure_rate: 0%%, consecutive_failures: 3}
  - name: dead
    targets: [{url: "127.0.0.1:1"}]
    breaker: {failure_rate: 0%%, consecutive_failures: 3}
routes:
  - {name: dead, upstream: dead, match: {path_prefix: /dead}}
  - {name: all, upstream: a}
`, up), clk)
	for range 10 {
		if resp, _ := get(t, gw.URL+"/missing"); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("GET /missing = %d, want the upstream's 404", resp.StatusCode)
		}
	}
	if st := p.Breaker("a").State(); st != breaker.Closed {
		t.Errorf("after ten 404s, breaker is %v, want closed", st)
	}
	for range 3 {
		resp, body := get(t, gw.URL+"/dead")
		checkProblem(t, resp, body, http.StatusBadGateway, ReasonConnectFailure)
	}
	resp, body := get(t, gw.URL+"/dead")
	checkProblem(t, resp, body, http.StatusServiceUnavailable, ReasonBreakerOpen)
}
