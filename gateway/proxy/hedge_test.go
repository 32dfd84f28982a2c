package proxy

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestHedgeSlowTarget makes the first target hang: after the hedge delay a
// copy goes to the second target, its answer wins, and the first copy is
// cancelled.
func TestHedgeSlowTarget(t *testing.T) {
	cancelled := make(chan struct{}, 1)
	slow, slowHits := countingUpstream(t, "slow", func(_ int64, r *http.Request) int {
		select {
		case <-r.Context().Done():
			cancelled <- struct{}{}
		case <-time.After(10 * time.Second):
		}
		return 0
	})
	fast, fastHits := countingUpstream(t, "fast", always(0))
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: svc, targets: [{url: %q}, {url: %q}]}]
routes:
  - name: all
    upstream: svc
    timeout: 20s
    policies:
      hedge: {delay: 50ms}
`, slow, fast), nil)
	resp, body := get(t, gw.URL+"/") // round robin sends the first request to slow
	if resp.StatusCode != http.StatusOK || string(body) != "fast" {
		t.Fatalf("GET = %d %q, want 200 from the hedge to fast", resp.StatusCode, body)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the losing copy was not cancelled")
	}
	if slowHits.Load() != 1 || fastHits.Load() != 1 {
		t.Errorf("hits slow, fast = %d, %d; want 1, 1", slowHits.Load(), fastHits.Load())
	}
}

// TestHedgeNotForFastOrUnsafe checks that an answer before the delay
// starts no copy, and that a POST is never hedged.
func TestHedgeNotForFastOrUnsafe(t *testing.T) {
	var hits atomic.Int64
	h := func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Method == http.MethodPost {
			time.Sleep(600 * time.Millisecond) // slower than the delay
		}
		_, _ = w.Write([]byte("ok"))
	}
	a, b := echoUpstreamHandler(t, h), echoUpstreamHandler(t, h)
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: svc, targets: [{url: %q}, {url: %q}]}]
routes:
  - name: all
    upstream: svc
    policies:
      hedge: {delay: 300ms} # far longer than a GET takes, even under -race
`, a, b), nil)
	for range 5 {
		if resp, _ := get(t, gw.URL+"/"); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET = %d", resp.StatusCode)
		}
	}
	if resp, _ := send(t, http.MethodPost, gw.URL+"/", "x", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST = %d", resp.StatusCode)
	}
	if hits.Load() != 6 {
		t.Errorf("6 requests made %d upstream calls, want 6 (no copy)", hits.Load())
	}
}
