package etcdsource_test

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/gateway/etcdsource"
)

// TestUnreachableBacksOff points a source at a port nothing listens on:
// it must report itself disconnected, wait on its clock for the backoff it
// was given (1, 2, 3 … failures in a row), and never call apply.
func TestUnreachableBacksOff(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	clk := clocktest.New(time.Time{})
	var mu sync.Mutex
	var attempts []int
	applied := 0
	s, err := etcdsource.New(etcdsource.Config{
		Endpoints: []string{"http://" + addr}, Key: "/k",
		DialTimeout: 50 * time.Millisecond, RequestTimeout: 50 * time.Millisecond,
		Clock: clk,
		Backoff: func(n int) time.Duration {
			mu.Lock()
			defer mu.Unlock()
			attempts = append(attempts, n)
			return time.Duration(n) * time.Minute
		},
		Logger: slog.New(slog.DiscardHandler),
	}, func(context.Context, []byte, int64) error {
		mu.Lock()
		defer mu.Unlock()
		applied++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	for n := 1; n <= 3; n++ {
		clk.BlockUntil(1) // waiting out backoff n
		if st := s.Status(); st.Connected || st.LastError == nil {
			t.Errorf("Status() while unreachable = %+v, want disconnected with an error", st)
		}
		clk.Advance(time.Duration(n) * time.Minute)
	}
	clk.BlockUntil(1)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 4 || attempts[0] != 1 || attempts[1] != 2 || attempts[2] != 3 || attempts[3] != 4 {
		t.Errorf("Backoff called with %v, want [1 2 3 4]: one more failure in a row each time", attempts)
	}
	if applied != 0 {
		t.Errorf("apply called %d times with etcd unreachable, want 0", applied)
	}
}

func TestDefaultBackoff(t *testing.T) {
	// A source with no Backoff uses the default; its waits are what the
	// package documents: from 100ms doubling to 10s, ±20%.
	var prevMax time.Duration
	for n := 1; n <= 12; n++ {
		want := min(etcdsource.DefaultBackoffBase<<(n-1), etcdsource.DefaultBackoffMax)
		lo, hi := time.Duration(float64(want)*0.8), time.Duration(float64(want)*1.2)
		for range 50 {
			if d := etcdsource.DefaultBackoff(n); d < lo || d > hi {
				t.Fatalf("DefaultBackoff(%d) = %v, want within [%v, %v]", n, d, lo, hi)
			}
		}
		if hi < prevMax {
			t.Fatalf("backoff bound shrank at n=%d", n)
		}
		prevMax = hi
	}
}
