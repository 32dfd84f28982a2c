package proxy

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
)

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestFallbackStaticAndBreaker fails the upstream once, which opens its
// breaker: the failure and the refusals after it are answered with the
// fixed response, read from a file, and the open breaker keeps requests
// from the upstream.
func TestFallbackStaticAndBreaker(t *testing.T) {
	up, hits := countingUpstream(t, "a", always(http.StatusInternalServerError))
	file := filepath.Join(t.TempDir(), "sorry.json")
	if err := os.WriteFile(file, []byte(`{"sorry":true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	clk := clocktest.New(time.Now())
	gw := gatewayWith(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: svc
    targets: [{url: %q}]
    breaker: {consecutive_failures: 1, open_duration: 30s}
routes:
  - name: all
    upstream: svc
    policies:
      fallback: {status: 200, file: %q, content_type: application/json}
`, up, file), Options{Clock: clk})
	for i := range 3 {
		resp, body := get(t, gw.URL+"/")
		if resp.StatusCode != http.StatusOK || string(body) != `{"sorry":true}` ||
			resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get(ReasonHeader) != ReasonFallbackStatic {
			t.Errorf("GET %d = %d %q (%s, %s %q); want 200, the file, application/json, %s", i+1, resp.StatusCode, body,
				resp.Header.Get("Content-Type"), ReasonHeader, resp.Header.Get(ReasonHeader), ReasonFallbackStatic)
		}
	}
	if hits.Load() != 1 {
		t.Errorf("upstream hits = %d, want 1: the breaker opened after the first failure", hits.Load())
	}
}

// TestFallbackUpstream answers from the fallback upstream when the route's
// own refuses connections.
func TestFallbackUpstream(t *testing.T) {
	spare, hits := countingUpstream(t, "spare", always(0))
	gw := gatewayWith(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - {name: main, targets: [{url: %q}]}
  - {name: spare, targets: [{url: %q}]}
routes:
  - name: all
    upstream: main
    policies:
      fallback: {upstream: spare}
`, closedAddr(t), spare), Options{})
	resp, body := send(t, http.MethodPost, gw.URL+"/", "", nil)
	if resp.StatusCode != http.StatusOK || string(body) != "spare" || resp.Header.Get(ReasonHeader) != ReasonFallbackUpstream {
		t.Errorf("POST = %d %q (%s %q), want 200 from the spare upstream, %s", resp.StatusCode, body,
			ReasonHeader, resp.Header.Get(ReasonHeader), ReasonFallbackUpstream)
	}
	if hits.Load() != 1 {
		t.Errorf("spare hits = %d, want 1", hits.Load())
	}
}

// TestFallbackStale serves the last good answer to a GET while the upstream
// fails, until it is older than stale_max_age; a GET never answered well
// gets the fixed response.
func TestFallbackStale(t *testing.T) {
	var broken atomic.Bool
	up, _ := countingUpstream(t, "a", func(_ int64, r *http.Request) int {
		if broken.Load() {
			return http.StatusBadGateway
		}
		return 0
	})
	clk := clocktest.New(time.Now())
	gw := gatewayWith(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: svc, targets: [{url: %q}]}]
routes:
  - name: all
    upstream: svc
    response_headers: {set: {X-Edited: "yes"}}
    policies:
      fallback: {stale_max_age: 1m, status: 503, body: "down"}
`, up), Options{Clock: clk})
	if resp, body := get(t, gw.URL+"/x?q=1"); resp.StatusCode != http.StatusOK || string(body) != "a" {
		t.Fatalf("healthy GET = %d %q, want 200 a", resp.StatusCode, body)
	}
	broken.Store(true)
	resp, body := get(t, gw.URL+"/x?q=1")
	if resp.StatusCode != http.StatusOK || string(body) != "a" || resp.Header.Get(ReasonHeader) != ReasonFallbackStale ||
		resp.Header.Get("X-Edited") != "yes" {
		t.Errorf("GET while failing = %d %q (%s %q, X-Edited %q); want the kept 200 a, %s, edited", resp.StatusCode, body,
			ReasonHeader, resp.Header.Get(ReasonHeader), resp.Header.Get("X-Edited"), ReasonFallbackStale)
	}
	if resp, body := get(t, gw.URL+"/other"); resp.StatusCode != http.StatusServiceUnavailable || string(body) != "down" {
		t.Errorf("GET of another resource = %d %q, want the fixed 503 down", resp.StatusCode, body)
	}
	clk.Advance(61 * time.Second)
	if resp, body := get(t, gw.URL+"/x?q=1"); resp.StatusCode != http.StatusServiceUnavailable || string(body) != "down" {
		t.Errorf("GET after stale_max_age = %d %q, want the fixed 503 down", resp.StatusCode, body)
	}
}

// TestFallbackAfterRetries checks the fallback answers only once the
// retries are spent.
func TestFallbackAfterRetries(t *testing.T) {
	up, hits := countingUpstream(t, "a", always(http.StatusServiceUnavailable))
	gw := gatewayWith(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: svc, targets: [{url: %q}]}]
routes:
  - name: all
    upstream: svc
    policies:
      retry: {attempts: 3, backoff: {initial: 1ms, max: 1ms}}
      fallback: {status: 200, body: "later"}
`, up), Options{})
	resp, body := get(t, gw.URL+"/")
	if resp.StatusCode != http.StatusOK || string(body) != "later" || hits.Load() != 3 {
		t.Errorf("GET = %d %q after %d attempts; want the fallback's 200 later after 3", resp.StatusCode, body, hits.Load())
	}
}
