package proxy

import (
	"fmt"
	"net/http"
	"testing"
)

func sendCriticality(t *testing.T, url, header, c string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if c != "" {
		req.Header.Set(header, c)
	}
	return do(t, req)
}

// sendCriticalityAsync sends a request with the criticality header in the
// background; the status comes back on the channel.
func sendCriticalityAsync(url, header, c string) chan int {
	out := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set(header, c)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			out <- 0
			return
		}
		resp.Body.Close()
		out <- resp.StatusCode
	}()
	return out
}

// TestShedByCriticality saturates a route's in-flight shedder with held
// requests: SHEDDABLE requests are refused with 503, Retry-After and a
// problem+json body, while a CRITICAL one still gets through; then
// SHEDDABLE_PLUS is refused at its own, higher, limit.
func TestShedByCriticality(t *testing.T) {
	up, arrived, release := heldUpstream(t)
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: held, targets: [{url: %q}]}]
routes:
  - name: held
    upstream: held
    policies:
      shed: {max_in_flight: 2}
`, hostPort(up)), nil)

	// Two requests without the header (CRITICAL by default) fill it.
	held := []chan int{sendAsync(t, gw.URL, "a"), sendAsync(t, gw.URL, "b")}
	waitArrivals(t, arrived, 2)

	resp, body := sendCriticality(t, gw.URL, "X-Criticality", "SHEDDABLE")
	checkProblem(t, resp, body, http.StatusServiceUnavailable, ReasonShed)
	if resp.Header.Get("Retry-After") != "1" {
		t.Errorf("shed refusal: Retry-After = %q, want 1", resp.Header.Get("Retry-After"))
	}
	held = append(held, sendCriticalityAsync(gw.URL, "X-Criticality", "CRITICAL"))
	waitArrivals(t, arrived, 1) // it reached the upstream past the saturated shedder

	// Three in flight: SHEDDABLE_PLUS (limit 3 of headroom 2) is shed now.
	resp, body = sendCriticality(t, gw.URL, "X-Criticality", "sheddable-plus")
	checkProblem(t, resp, body, http.StatusServiceUnavailable, ReasonShed)

	close(release)
	for i, c := range held {
		if got := <-c; got != http.StatusOK {
			t.Errorf("held request %d: status %d, want 200", i+1, got)
		}
	}
	if resp, body := sendCriticality(t, gw.URL, "X-Criticality", "SHEDDABLE"); resp.StatusCode != http.StatusOK {
		t.Errorf("SHEDDABLE once the load is gone: status %d (%s), want 200", resp.StatusCode, body)
	}
}

// TestShedRouteDefault checks the criticality set per route: requests
// without the (configured) header take the route's default.
func TestShedRouteDefault(t *testing.T) {
	up, arrived, release := heldUpstream(t)
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: held, targets: [{url: %q}]}]
routes:
  - name: batch
    upstream: held
    policies:
      shed: {max_in_flight: 1, criticality_header: X-Priority, default: sheddable}
`, hostPort(up)), nil)
	first := sendCriticalityAsync(gw.URL, "X-Priority", "CRITICAL")
	waitArrivals(t, arrived, 1)
	resp, body := sendCriticality(t, gw.URL, "X-Priority", "")
	checkProblem(t, resp, body, http.StatusServiceUnavailable, ReasonShed)
	resp, body = sendCriticality(t, gw.URL, "X-Criticality", "CRITICAL") // not the configured header
	checkProblem(t, resp, body, http.StatusServiceUnavailable, ReasonShed)
	second := sendCriticalityAsync(gw.URL, "X-Priority", "critical")
	waitArrivals(t, arrived, 1)
	close(release)
	if a, b := <-first, <-second; a != http.StatusOK || b != http.StatusOK {
		t.Errorf("critical requests: %d and %d, want 200", a, b)
	}
}

// TestShedCPUBuilds checks that a CPU-engaged shedder is built (with the
// process's real CPU sampler) and admits requests while the CPU is idle.
func TestShedCPUBuilds(t *testing.T) {
	up := echoUpstream(t, "a")
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: a, targets: [{url: %q}]}]
routes:
  - name: api
    upstream: a
    policies:
      shed: {cpu: 99%%, max_in_flight: 100}
`, hostPort(up)), nil)
	for range 3 {
		if resp, body := sendCriticality(t, gw.URL, "X-Criticality", "SHEDDABLE"); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d (%s), want 200", resp.StatusCode, body)
		}
	}
}

// TestAdmissionOrder checks the order of the request path: shedding before
// the rate limit (a shed request takes no token), the rate limit before
// the concurrency limit (429, not 503, when both would refuse).
func TestAdmissionOrder(t *testing.T) {
	up, arrived, release := heldUpstream(t)
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: held, targets: [{url: %q}]}]
routes:
  - name: api
    upstream: held
    policies:
      shed: {max_in_flight: 1}
      rate_limit: {rate: 2/m}
      concurrency: {max: 1}
`, hostPort(up)), nil)
	first := sendAsync(t, gw.URL, "a") // token 1 of 2
	waitArrivals(t, arrived, 1)
	for range 3 {
		resp, body := sendCriticality(t, gw.URL, "X-Criticality", "SHEDDABLE")
		checkProblem(t, resp, body, http.StatusServiceUnavailable, ReasonShed)
	}
	resp, body := sendCriticality(t, gw.URL, "X-Criticality", "CRITICAL") // token 2 of 2, then the full bulkhead
	checkProblem(t, resp, body, http.StatusServiceUnavailable, ReasonConcurrency)
	resp, body = sendCriticality(t, gw.URL, "X-Criticality", "CRITICAL") // no token left: the rate limit answers first
	checkProblem(t, resp, body, http.StatusTooManyRequests, ReasonRateLimited)
	close(release)
	if got := <-first; got != http.StatusOK {
		t.Fatalf("held request: %d", got)
	}
}
