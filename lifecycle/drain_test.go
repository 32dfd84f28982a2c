package lifecycle_test

import (
	"strings"
	"testing"
	"time"

	"github.com/levee-go/levee/internal/rawload"
	"github.com/levee-go/levee/lifecycle"
)

// TestDrainLosesNoRequest keeps clients that never retry sending on
// keep-alive connections through the drain window (as long as the fake
// clock holds it open), then stops them, as a load balancer that noticed
// readiness fail would, and lets the shutdown go on. Not one request may
// be lost: keep-alive connections must be ended by answering their next
// request with "Connection: close", never closed under a client.
func TestDrainLosesNoRequest(t *testing.T) {
	const drain = 5 * time.Second
	hs := newHarness(t, lifecycle.Config{DrainDelay: drain})
	addr := strings.TrimPrefix(hs.serveHTTP(nil, nil), "http://")
	hs.start()

	ld, err := rawload.Start(rawload.Config{Addr: addr, Path: "/work", Conns: 8,
		Pause: time.Millisecond, MaxRequests: 50_000})
	if err != nil {
		t.Fatal(err)
	}
	defer ld.Stop()
	if err := ld.WaitOK(200, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	hs.l.Stop()
	hs.expect(lifecycle.Draining)
	atDrain := ld.Result()
	// The drain window stays open until the clock moves: keep sending.
	if err := ld.WaitOK(atDrain.OK+1000, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	res := ld.Stop()
	hs.fc.BlockUntil(1)
	hs.fc.Advance(drain)
	hs.expect(lifecycle.Stopping)
	hs.expect(lifecycle.Flushing)
	hs.expect(lifecycle.Stopped)
	if err := hs.result(); err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}

	t.Logf("drain: %d requests sent during the drain window; total %v", res.Sent-atDrain.Sent, res)
	if res.Failed != 0 {
		t.Errorf("drain: %d of %d requests failed (%d sent during the drain window), want 0; first errors %q",
			res.Failed, res.Sent, res.Sent-atDrain.Sent, res.Errors)
	}
	if res.Closes == 0 {
		t.Errorf("drain: no response carried Connection: close, want every keep-alive connection told to close")
	}
}
