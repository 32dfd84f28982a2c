package proxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
)

// countingUpstream starts an upstream that counts its requests and
// answers each with fail(n) (n counting from 1): 0 for 200 and its name,
// another status for that status.
func countingUpstream(t *testing.T, name string, fail func(n int64, r *http.Request) int) (string, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	url := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		if s := fail(n, r); s != 0 {
			w.Header().Set("X-Upstream", name)
			http.Error(w, "failing", s)
			return
		}
		w.Header().Set("X-Upstream", name)
		_, _ = w.Write([]byte(name))
	})
	return url, &hits
}

func always(status int) func(int64, *http.Request) int {
	return func(int64, *http.Request) int { return status }
}

func send(t *testing.T, method, url string, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return do(t, req)
}

// TestRetryMovesToAnotherTarget hashes every request to one target, makes
// that target fail, and checks each GET is answered by the other one after
// exactly one failed attempt: the retry does not go back to the target the
// balancer keeps choosing.
func TestRetryMovesToAnotherTarget(t *testing.T) {
	var bad atomic.Value // the name of the failing target
	bad.Store("")
	failIfBad := func(name string) func(int64, *http.Request) int {
		return func(int64, *http.Request) int {
			if bad.Load() == name {
				return http.StatusServiceUnavailable
			}
			return 0
		}
	}
	a, hitsA := countingUpstream(t, "a", failIfBad("a"))
	b, hitsB := countingUpstream(t, "b", failIfBad("b"))
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: svc
    targets: [{url: %q}, {url: %q}]
    balancing: {policy: consistent_hash, hash: {header: X-User}}
routes:
  - name: all
    upstream: svc
    policies:
      retry: {attempts: 2, backoff: {initial: 1ms, max: 1ms}}
`, a, b), nil)
	hdr := map[string]string{"X-User": "alice"}
	resp, _ := send(t, http.MethodGet, gw.URL+"/", "", hdr)
	first := resp.Header.Get("X-Upstream")
	bad.Store(first)
	hitsA.Store(0)
	hitsB.Store(0)
	for i := range 5 {
		resp, body := send(t, http.MethodGet, gw.URL+"/", "", hdr)
		if resp.StatusCode != http.StatusOK || string(body) == first {
			t.Fatalf("GET %d = %d %q, want 200 from the target other than %s", i+1, resp.StatusCode, body, first)
		}
	}
	if a, b := hitsA.Load(), hitsB.Load(); a != 5 || b != 5 {
		t.Errorf("attempts at a, b = %d, %d; want 5, 5 (one failure and one retry elsewhere per request)", a, b)
	}
}

// TestRetryNeverRepeatsUnsafeRequests sends POSTs to a failing upstream:
// without an Idempotency-Key each reaches it exactly once; with one it is
// retried, its body replayed whole on every attempt.
func TestRetryNeverRepeatsUnsafeRequests(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	var hits atomic.Int64
	up := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		http.Error(w, "failing", http.StatusBadGateway)
	})
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: svc, targets: [{url: %q}]}]
routes:
  - name: all
    upstream: svc
    policies:
      retry: {attempts: 3, backoff: {initial: 1ms, max: 1ms}}
`, up), nil)

	resp, _ := send(t, http.MethodPost, gw.URL+"/", "payload", nil)
	if resp.StatusCode != http.StatusBadGateway || hits.Load() != 1 {
		t.Fatalf("POST without key: status %d, %d attempts; want the upstream's 502 after exactly 1", resp.StatusCode, hits.Load())
	}
	hits.Store(0)
	bodies = nil
	resp, _ = send(t, http.MethodPost, gw.URL+"/", "payload", map[string]string{"Idempotency-Key": "k1"})
	if resp.StatusCode != http.StatusBadGateway || hits.Load() != 3 {
		t.Fatalf("POST with key: status %d, %d attempts; want 502 after 3", resp.StatusCode, hits.Load())
	}
	for i, b := range bodies {
		if b != "payload" {
			t.Errorf("attempt %d body = %q, want %q", i+1, b, "payload")
		}
	}
}

// TestRetryLongBodySentOnce checks that a body longer than max_replay_body
// is streamed once and never retried, even with an idempotent method.
func TestRetryLongBodySentOnce(t *testing.T) {
	up, hits := countingUpstream(t, "a", func(_ int64, r *http.Request) int {
		return http.StatusServiceUnavailable
	})
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: svc, targets: [{url: %q}]}]
routes:
  - name: all
    upstream: svc
    policies:
      retry: {attempts: 3, max_replay_body: 16B, backoff: {initial: 1ms, max: 1ms}}
`, up), nil)
	resp, _ := send(t, http.MethodPut, gw.URL+"/", strings.Repeat("x", 17), nil)
	if resp.StatusCode != http.StatusServiceUnavailable || hits.Load() != 1 {
		t.Errorf("PUT of 17 bytes: status %d, %d attempts; want 503 after 1", resp.StatusCode, hits.Load())
	}
	hits.Store(0)
	resp, _ = send(t, http.MethodPut, gw.URL+"/", strings.Repeat("x", 16), nil)
	if resp.StatusCode != http.StatusServiceUnavailable || hits.Load() != 3 {
		t.Errorf("PUT of 16 bytes: status %d, %d attempts; want 503 after 3", resp.StatusCode, hits.Load())
	}
}

// TestRetryBudgetHolds fails every request and checks the attempts stay
// within the budget: at most one retry per five requests.
func TestRetryBudgetHolds(t *testing.T) {
	up, hits := countingUpstream(t, "a", always(http.StatusServiceUnavailable))
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: svc, targets: [{url: %q}]}]
routes:
  - name: all
    upstream: svc
    policies:
      retry:
        attempts: 3
        backoff: {initial: 1ms, max: 1ms}
        budget: {ratio: 20%%, min_per_second: 0}
`, up), nil)
	const requests = 100
	for range requests {
		resp, _ := get(t, gw.URL+"/")
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want the upstream's 503", resp.StatusCode)
		}
	}
	retries := hits.Load() - requests
	if retries < 10 || retries > requests/5 {
		t.Errorf("%d requests made %d retries; want some, and at most %d (20%%)", requests, retries, requests/5)
	}
}

// TestRetryPerTryTimeout makes the first attempt hang and checks the
// per-try timeout cuts it and the retry answers.
func TestRetryPerTryTimeout(t *testing.T) {
	up, hits := countingUpstream(t, "a", func(n int64, r *http.Request) int {
		if n == 1 {
			<-r.Context().Done() // hang until the gateway gives up
		}
		return 0
	})
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: svc, targets: [{url: %q}]}]
routes:
  - name: all
    upstream: svc
    timeout: 10s
    policies:
      retry: {attempts: 2, per_try_timeout: 300ms, backoff: {initial: 1ms, max: 1ms}}
`, up), nil)
	resp, body := get(t, gw.URL+"/")
	if resp.StatusCode != http.StatusOK || string(body) != "a" || hits.Load() != 2 {
		t.Errorf("GET = %d %q after %d attempts; want 200 after 2", resp.StatusCode, body, hits.Load())
	}
}

// TestRetryPerTryTimeoutLast checks that a last attempt cut by the per-try
// timeout answers 504 with a problem body.
func TestRetryPerTryTimeoutLast(t *testing.T) {
	up, _ := countingUpstream(t, "a", func(n int64, r *http.Request) int {
		<-r.Context().Done()
		return 0
	})
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: svc, targets: [{url: %q}]}]
routes:
  - name: all
    upstream: svc
    timeout: 10s
    policies:
      retry: {attempts: 2, per_try_timeout: 20ms, backoff: {initial: 1ms, max: 1ms}}
`, up), nil)
	resp, body := get(t, gw.URL+"/")
	checkProblem(t, resp, body, http.StatusGatewayTimeout, ReasonTimeout)
}

// TestRetryHonoursRetryAfter answers the first attempt 503 with
// Retry-After: 2 and checks, on a fake clock, that the retry waits the two
// seconds rather than the 1ms backoff.
func TestRetryHonoursRetryAfter(t *testing.T) {
	up := echoUpstreamHandler(t, func() http.HandlerFunc {
		var n atomic.Int64
		return func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.Header().Set("Retry-After", "2")
				http.Error(w, "later", http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte("ok"))
		}
	}())
	clk := clocktest.New(time.Now())
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: svc, targets: [{url: %q}]}]
routes:
  - name: all
    upstream: svc
    timeout: 10s
    policies:
      retry: {attempts: 2, backoff: {initial: 1ms, max: 1ms}}
`, up), clk)
	done := make(chan int, 1)
	go func() {
		resp, err := http.Get(gw.URL + "/")
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	waiting := make(chan struct{})
	go func() { clk.BlockUntil(1); close(waiting) }()
	select {
	case <-waiting: // the retry is waiting
	case s := <-done:
		t.Fatalf("answered %d without waiting for the Retry-After", s)
	}
	clk.Advance(1999 * time.Millisecond)
	select {
	case s := <-done:
		t.Fatalf("answered %d before the 2s Retry-After passed", s)
	default:
	}
	clk.Advance(time.Millisecond)
	if s := <-done; s != http.StatusOK {
		t.Errorf("status %d after the wait, want 200", s)
	}
}

// TestRetryNotAfterResponseStarted breaks the connection in the middle of
// a response body: the client has had the header, so nothing is retried.
func TestRetryNotAfterResponseStarted(t *testing.T) {
	var hits atomic.Int64
	addr := rawUpstream(t, func(c net.Conn, _ <-chan struct{}) {
		hits.Add(1)
		// More than the gateway buffers, so the client has the header.
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"+strings.Repeat("x", 20000))
		c.Close()
	})
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: svc, targets: [{url: %q}]}]
routes:
  - name: all
    upstream: svc
    policies:
      retry: {attempts: 3, retry_on: [5xx, reset], backoff: {initial: 1ms, max: 1ms}}
`, addr), nil)
	resp, err := http.Get(gw.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || hits.Load() != 1 {
		t.Errorf("status %d after %d attempts; want the 200 that was cut, after 1", resp.StatusCode, hits.Load())
	}
}

// TestRetrySettlesEachAttempt gives each target its own breaker that opens
// on one failure: a GET that fails on one target and succeeds on the other
// opens the failing target's breaker, so later requests go only to the
// other one.
func TestRetrySettlesEachAttempt(t *testing.T) {
	bad, badHits := countingUpstream(t, "bad", always(http.StatusServiceUnavailable))
	good, goodHits := countingUpstream(t, "good", always(0))
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: svc
    targets: [{url: %q}, {url: %q}]
    breaker: {per_target: true, consecutive_failures: 1, open_duration: 1m}
routes:
  - name: all
    upstream: svc
    policies:
      retry: {attempts: 2, backoff: {initial: 1ms, max: 1ms}}
`, bad, good), nil)
	for i := range 6 {
		if resp, body := get(t, gw.URL+"/"); resp.StatusCode != http.StatusOK || string(body) != "good" {
			t.Fatalf("GET %d = %d %q, want 200 from good", i+1, resp.StatusCode, body)
		}
	}
	if badHits.Load() != 1 || goodHits.Load() != 6 {
		t.Errorf("hits bad, good = %d, %d; want 1, 6: the failed attempt opened bad's breaker", badHits.Load(), goodHits.Load())
	}
}
