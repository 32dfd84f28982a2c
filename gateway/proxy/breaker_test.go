package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/gateway/config"
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

// TestBreakerCountsBrokenBodies checks that an answer cut off after its
// header was sent (the upstream dies mid-body) is a failure, though its
// status was 200.
func TestBreakerCountsBrokenBodies(t *testing.T) {
	up := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("first ten."))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // close the connection mid-body
	})
	p, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: a
    targets: [{url: %q}]
    breaker: {failure_rate: 0%%, consecutive_failures: 2}
routes: [{name: all, upstream: a}]
`, up), clocktest.New(time.Unix(1_700_000_000, 0)))
	for i := range 2 {
		// The client sees the cut as an error, on the header (still in the
		// gateway's buffer when the connection was aborted) or the body.
		resp, err := http.Get(gw.URL + "/")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Errorf("request %d: the cut-off answer read without error", i+1)
		}
	}
	if st := p.Breaker("a").State(); st != breaker.Open {
		t.Errorf("after two bodies cut off, breaker is %v, want open", st)
	}
}

// TestBreakerIgnoresClientsGone checks that a client giving up on a slow
// upstream says nothing about the upstream: the breaker does not count it.
func TestBreakerIgnoresClientsGone(t *testing.T) {
	up := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: a
    targets: [{url: %q}]
    breaker: {failure_rate: 0%%, consecutive_failures: 1}
routes: [{name: all, upstream: a}]
`, up)), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, Options{Clock: clocktest.New(time.Unix(1_700_000_000, 0))})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	h, _ := p.Handler("public")
	served := make(chan struct{}, 1)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		served <- struct{}{}
	}))
	defer gw.Close()

	client := &http.Client{Timeout: 100 * time.Millisecond}
	if resp, err := client.Get(gw.URL + "/"); err == nil {
		resp.Body.Close()
		t.Fatalf("the client got an answer from a hanging upstream")
	}
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway did not finish the abandoned request within 10s")
	}
	if st := p.Breaker("a").State(); st != breaker.Closed {
		t.Errorf("after a client gave up, breaker is %v, want closed", st)
	}
}

// TestBreakerPerTarget gives each target its own breaker: a failing target
// is passed over once its breaker opens, the pool answers 503 only when
// every target's breaker is open, and a healed target takes requests again
// after open_duration.
func TestBreakerPerTarget(t *testing.T) {
	var badHealthy atomic.Bool
	bad := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", "bad")
		if !badHealthy.Load() {
			http.Error(w, "broken", http.StatusInternalServerError)
		}
	})
	var goodDown atomic.Bool
	good := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", "good")
		if goodDown.Load() {
			http.Error(w, "broken", http.StatusInternalServerError)
		}
	})
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	p, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: pool
    targets: [{url: %q}, {url: %q}]
    breaker: {failure_rate: 0%%, consecutive_failures: 2, open_duration: 5s, per_target: true}
routes: [{name: all, upstream: pool}]
`, bad, good), clk)
	if p.Breaker("pool") != nil {
		t.Errorf("Breaker(pool) is not nil, though its breakers are per target")
	}
	// Round robin: bad, good, bad (its second failure opens it), then
	// only good.
	for range 4 {
		get(t, gw.URL+"/")
	}
	for i := range 10 {
		resp, _ := get(t, gw.URL+"/")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Upstream") != "good" {
			t.Fatalf("request %d: %d from %q, want 200 from good while bad's breaker is open", i+1, resp.StatusCode, resp.Header.Get("X-Upstream"))
		}
	}

	goodDown.Store(true)
	get(t, gw.URL+"/")
	get(t, gw.URL+"/")
	resp, body := get(t, gw.URL+"/")
	checkProblem(t, resp, body, http.StatusServiceUnavailable, ReasonBreakerOpen)
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("no Retry-After while every target's breaker is open")
	}

	badHealthy.Store(true)
	clk.Advance(5 * time.Second)
	seen := map[string]bool{}
	for range 4 {
		resp, _ := get(t, gw.URL+"/")
		if resp.StatusCode == http.StatusOK {
			seen[resp.Header.Get("X-Upstream")] = true
		}
	}
	if !seen["bad"] {
		t.Errorf("after open_duration, the healed target took no request")
	}
}
