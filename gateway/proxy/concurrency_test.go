package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// heldUpstream answers every request only when release is closed, and
// reports each arrival on arrived.
func heldUpstream(t *testing.T) (srv *httptest.Server, arrived chan string, release chan struct{}) {
	t.Helper()
	arrived, release = make(chan string, 100), make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.Header.Get("X-Tenant")
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
		srv.Close()
	})
	return srv, arrived, release
}

// sendAsync sends a request for tenant in the background; the status comes
// back on the channel.
func sendAsync(t *testing.T, url, tenant string) chan int {
	t.Helper()
	out := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("X-Tenant", tenant)
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

func sendTenant(t *testing.T, url, tenant string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-Tenant", tenant)
	return do(t, req)
}

// waitArrivals waits for n requests to reach the upstream.
func waitArrivals(t *testing.T, arrived chan string, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-arrived:
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d requests reached the upstream", i, n)
		}
	}
}

// TestConcurrencyPerKeyIsolatesTenants floods one tenant up to its
// bulkhead: its next request is refused with 503 at once, while another
// tenant still gets through; the refused tenant gets its slots back when
// its requests end.
func TestConcurrencyPerKeyIsolatesTenants(t *testing.T) {
	up, arrived, release := heldUpstream(t)
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: a, targets: [{url: %q}]}]
routes:
  - name: api
    upstream: a
    policies:
      concurrency: {max: 2, per_key: ["header:X-Tenant"]}
`, hostPort(up)), nil)
	flood := []chan int{sendAsync(t, gw.URL, "a"), sendAsync(t, gw.URL, "a")}
	waitArrivals(t, arrived, 2)

	resp, body := sendTenant(t, gw.URL, "a")
	checkProblem(t, resp, body, http.StatusServiceUnavailable, ReasonConcurrency)

	quiet := sendAsync(t, gw.URL, "b")
	waitArrivals(t, arrived, 1) // b reached the upstream: a's flood did not take its slot

	close(release)
	for i, c := range append(flood, quiet) {
		if got := <-c; got != http.StatusOK {
			t.Errorf("held request %d: status %d, want 200", i+1, got)
		}
	}
	if resp, body := sendTenant(t, gw.URL, "a"); resp.StatusCode != http.StatusOK {
		t.Errorf("tenant a after its requests ended: status %d (%s), want 200", resp.StatusCode, body)
	}
}

// TestConcurrencyRouteLimit checks a route-wide bulkhead and an adaptive
// limit pinned at one: the second request in flight is refused with 503.
func TestConcurrencyRouteLimit(t *testing.T) {
	for name, policy := range map[string]string{
		"bulkhead": `{max: 1}`,
		"adaptive": `{adaptive: {algorithm: aimd, min: 1, max: 1}}`,
	} {
		t.Run(name, func(t *testing.T) {
			up, arrived, release := heldUpstream(t)
			_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: a, targets: [{url: %q}]}]
routes:
  - name: api
    upstream: a
    policies:
      concurrency: %s
`, hostPort(up), policy), nil)
			first := sendAsync(t, gw.URL, "a")
			waitArrivals(t, arrived, 1)
			resp, body := sendTenant(t, gw.URL, "b") // another tenant: the limit is the route's
			checkProblem(t, resp, body, http.StatusServiceUnavailable, ReasonConcurrency)
			close(release)
			if got := <-first; got != http.StatusOK {
				t.Fatalf("held request: status %d", got)
			}
			if resp, body := sendTenant(t, gw.URL, "b"); resp.StatusCode != http.StatusOK {
				t.Errorf("after the first ended: status %d (%s), want 200", resp.StatusCode, body)
			}
		})
	}
}

// TestConcurrencyQueueTimeout checks that with queue_timeout a request
// waits for a slot, and is refused when none frees in time.
func TestConcurrencyQueueTimeout(t *testing.T) {
	up, arrived, release := heldUpstream(t)
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: a, targets: [{url: %q}]}]
routes:
  - name: api
    upstream: a
    policies:
      concurrency: {max: 1, queue_timeout: 50ms}
`, hostPort(up)), nil)
	first := sendAsync(t, gw.URL, "a")
	waitArrivals(t, arrived, 1)
	resp, body := sendTenant(t, gw.URL, "a")
	checkProblem(t, resp, body, http.StatusServiceUnavailable, ReasonConcurrency)
	queued := sendAsync(t, gw.URL, "a")
	time.Sleep(10 * time.Millisecond) // let it queue (it may also arrive after the release: both pass)
	close(release)
	if a, b := <-first, <-queued; a != http.StatusOK || b != http.StatusOK {
		t.Errorf("statuses %d and %d, want the held and the queued request to pass", a, b)
	}
}

// TestAdmissionRefusalFallsBack checks that a concurrency or shedding
// refusal is answered by the route's fallback when it has one, and that a
// rate-limit refusal is not: it stays a 429.
func TestAdmissionRefusalFallsBack(t *testing.T) {
	up, arrived, release := heldUpstream(t)
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: a, targets: [{url: %q}]}]
routes:
  - name: api
    upstream: a
    policies:
      concurrency: {max: 1}
      rate_limit: {rate: 3/m}
      fallback: {status: 200, body: "degraded"}
`, hostPort(up)), nil)
	first := sendAsync(t, gw.URL, "a")
	waitArrivals(t, arrived, 1)
	resp, body := sendTenant(t, gw.URL, "a")
	if resp.StatusCode != http.StatusOK || string(body) != "degraded" {
		t.Errorf("concurrency refusal with a fallback: %d %q, want the fallback's 200 \"degraded\"", resp.StatusCode, body)
	}
	close(release)
	if got := <-first; got != http.StatusOK {
		t.Fatalf("held request: %d", got)
	}
	if resp, body := sendTenant(t, gw.URL, "a"); resp.StatusCode != http.StatusOK {
		t.Fatalf("third request: %d (%s)", resp.StatusCode, body)
	}
	resp, body = sendTenant(t, gw.URL, "a")
	checkProblem(t, resp, body, http.StatusTooManyRequests, ReasonRateLimited)
}
