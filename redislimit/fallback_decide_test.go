package redislimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/levee-go/levee/redislimit"
)

// TestDecideKeyNFallbackSaysWhoDecided checks that a decision Redis made is
// reported as such, and that the first decision after Redis stops (before
// the limiter has switched its state) is already reported as the
// fallback's.
func TestDecideKeyNFallbackSaysWhoDecided(t *testing.T) {
	port := freePort(t)
	srv := startRedisServer(t, port)
	c := newClient(t, srv.addr())
	l, err := redislimit.New(redislimit.Config{Client: c, Limit: 10, Period: time.Second,
		Timeout: 100 * time.Millisecond, Fallback: redislimit.FailOpen, FailureThreshold: 5})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, fb, err := l.DecideKeyNFallback(ctx, "k", 1)
	if err != nil || fb || !d.Allowed {
		t.Fatalf("with Redis up: DecideKeyNFallback = %+v, %v, %v; want allowed by Redis", d, fb, err)
	}
	srv.stop()
	d, fb, err = l.DecideKeyNFallback(ctx, "k", 1)
	if err != nil || !fb || !d.Allowed {
		t.Fatalf("with Redis stopped: DecideKeyNFallback = %+v, %v, %v; want allowed by the fail_open fallback", d, fb, err)
	}
	if l.UsingFallback() {
		t.Fatal("UsingFallback after one failure with FailureThreshold 5; the test needs the state unswitched")
	}
}
