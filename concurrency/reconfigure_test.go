package concurrency_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/concurrency"
	"github.com/levee-go/levee/internal/conformance"
)

func TestBulkheadReconfigure(t *testing.T) {
	clk := clocktest.New(time.Time{})
	b, err := concurrency.NewBulkhead(concurrency.BulkheadConfig{Name: "db", MaxConcurrent: 3, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var held []levee.Permit
	for range 3 {
		p, err := b.Acquire(ctx)
		if err != nil {
			t.Fatalf("Acquire = %v", err)
		}
		held = append(held, p)
	}
	for _, tt := range []struct {
		cfg   concurrency.BulkheadConfig
		field string
	}{
		{concurrency.BulkheadConfig{MaxConcurrent: -1}, "MaxConcurrent"},
		{concurrency.BulkheadConfig{MaxWait: time.Second}, "MaxWait"},
		{concurrency.BulkheadConfig{Name: "other"}, "Name"},
		{concurrency.BulkheadConfig{Clock: clocktest.New(time.Time{})}, "Clock"},
	} {
		if err := b.Reconfigure(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("Reconfigure(%+v) = %v, want an error naming %s", tt.cfg, err, tt.field)
		}
	}
	if b.Limit() != 3 || b.InFlight() != 3 {
		t.Fatalf("after refused Reconfigures: limit %d, in flight %d; want 3, 3 (untouched)", b.Limit(), b.InFlight())
	}

	// Lower the limit and add a queue: the three calls keep running.
	if err := b.Reconfigure(concurrency.BulkheadConfig{MaxConcurrent: 2, MaxQueue: 1}); err != nil {
		t.Fatalf("Reconfigure = %v", err)
	}
	if b.Limit() != 2 || b.InFlight() != 3 {
		t.Fatalf("after lowering the limit: limit %d, in flight %d; want 2, 3", b.Limit(), b.InFlight())
	}
	got := make(chan error, 1)
	go func() {
		p, err := b.Acquire(ctx) // waits in the new queue
		if err == nil {
			p.Done(nil)
		}
		got <- err
	}()
	eventually(t, "waiter queued", func() bool { return b.Queued() == 1 })
	if _, err := b.Acquire(ctx); !errors.Is(err, levee.ErrBulkheadFull) {
		t.Errorf("Acquire with the queue full = %v, want ErrBulkheadFull", err)
	}
	held[0].Done(nil)
	held[1].Done(nil) // in flight 1 of 2: the waiter gets in
	if err := <-got; err != nil {
		t.Errorf("queued Acquire = %v, want admission", err)
	}
	held[2].Done(nil)
	held[2].Done(nil) // settled twice: frees nothing
	if b.InFlight() != 0 {
		t.Errorf("InFlight() after every permit settled = %d, want 0", b.InFlight())
	}
}

func TestLimiterReconfigureKeepsLimit(t *testing.T) {
	clk := clocktest.New(time.Time{})
	a, _ := concurrency.NewAIMD(concurrency.AIMDConfig{InitialLimit: 10, MinLimit: 1})
	l := newLimiter(t, concurrency.LimiterConfig{Algorithm: a, Clock: clk})
	clk.Advance(time.Second)
	runWindow(t, l, clk, 5*ms, same(10, levee.Outcome{Result: levee.Success})...)
	if got := l.Limit(); got != 11 {
		t.Fatalf("Limit() after a busy window = %d, want 11", got)
	}
	// Same algorithm, a queue: the learned limit stays.
	if err := l.Reconfigure(concurrency.LimiterConfig{Algorithm: a, MaxQueue: 4, RetryAfter: time.Second}); err != nil {
		t.Fatalf("Reconfigure = %v", err)
	}
	if got := l.Limit(); got != 11 {
		t.Errorf("Limit() after Reconfigure with the same algorithm = %d, want 11 (kept)", got)
	}
	// Tighter bounds: the estimate is clamped to them.
	tight, _ := concurrency.NewAIMD(concurrency.AIMDConfig{InitialLimit: 5, MinLimit: 2, MaxLimit: 8})
	if err := l.Reconfigure(concurrency.LimiterConfig{Algorithm: tight, MinSamples: 8}); err != nil {
		t.Fatalf("Reconfigure = %v", err)
	}
	if got := l.Limit(); got != 8 {
		t.Errorf("Limit() after Reconfigure to bounds [2, 8] = %d, want 8 (clamped)", got)
	}
	// The new algorithm learns from the kept estimate, in windows of the
	// new MinSamples.
	clk.Advance(time.Second)
	runWindow(t, l, clk, 5*ms, same(8, levee.Outcome{Result: levee.Failure})...)
	if got := l.Limit(); got != 7 {
		t.Errorf("Limit() after a window with drops = %d, want 7 (8·0.9)", got)
	}
}

func TestLimiterReconfigureRefusesBadConfig(t *testing.T) {
	clk := clocktest.New(time.Time{})
	l := newLimiter(t, concurrency.LimiterConfig{Name: "api", Algorithm: &stub{initial: 4, lo: 1, hi: 10}, Clock: clk})
	for _, tt := range []struct {
		cfg   concurrency.LimiterConfig
		field string
	}{
		{concurrency.LimiterConfig{MinWindow: -1}, "MinWindow"},
		{concurrency.LimiterConfig{MinWindow: time.Second, MaxWindow: time.Millisecond}, "MaxWindow"},
		{concurrency.LimiterConfig{Algorithm: &stub{}}, "bounds"},
		{concurrency.LimiterConfig{RetryAfter: -time.Second}, "RetryAfter"},
		{concurrency.LimiterConfig{Name: "x"}, "Name"},
	} {
		if err := l.Reconfigure(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("Reconfigure(%+v) = %v, want an error naming %s", tt.cfg, err, tt.field)
		}
	}
	if got := l.Limit(); got != 4 {
		t.Errorf("Limit() after refused Reconfigures = %d, want 4 (untouched)", got)
	}
}

// TestReconfigureDuringTraffic changes the limits of a bulkhead and an
// adaptive limiter while calls run (for the race detector), then checks
// that every slot came back.
func TestReconfigureDuringTraffic(t *testing.T) {
	b, err := concurrency.NewBulkhead(concurrency.BulkheadConfig{MaxConcurrent: 4, MaxQueue: 8})
	if err != nil {
		t.Fatal(err)
	}
	l := newLimiter(t, concurrency.LimiterConfig{Algorithm: &stub{initial: 4, lo: 1, hi: 8}, MaxQueue: 8})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 500 {
				for _, g := range []levee.Gate{b, l} {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					if p, err := g.Acquire(ctx); err == nil {
						p.Done(nil)
						p.Done(nil)
					}
					cancel()
				}
			}
		})
	}
	for i := range 200 {
		if err := b.Reconfigure(concurrency.BulkheadConfig{MaxConcurrent: 1 + i%4, MaxQueue: i % 8}); err != nil {
			t.Fatalf("Bulkhead.Reconfigure = %v", err)
		}
		if err := l.Reconfigure(concurrency.LimiterConfig{Algorithm: &stub{initial: 1 + i%4, lo: 1 + i%4, hi: 8}, MaxQueue: 8, LIFO: i%2 == 0}); err != nil {
			t.Fatalf("Limiter.Reconfigure = %v", err)
		}
	}
	wg.Wait()
	if b.InFlight() != 0 || b.Queued() != 0 || l.InFlight() != 0 || l.Queued() != 0 {
		t.Errorf("after the traffic: bulkhead %d in flight %d queued, limiter %d in flight %d queued; want all 0",
			b.InFlight(), b.Queued(), l.InFlight(), l.Queued())
	}
}

func TestReconfigureSettleOnce(t *testing.T) {
	t.Run("bulkhead", func(t *testing.T) {
		conformance.SettleOnceAcrossReconfigure(t, func(clk clock.Clock) levee.Gate {
			b, err := concurrency.NewBulkhead(concurrency.BulkheadConfig{MaxConcurrent: 4, Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, nil, func(g levee.Gate) error {
			return g.(*concurrency.Bulkhead).Reconfigure(concurrency.BulkheadConfig{MaxConcurrent: 4})
		})
	})
	t.Run("adaptive", func(t *testing.T) {
		conformance.SettleOnceAcrossReconfigure(t, func(clk clock.Clock) levee.Gate {
			return newLimiter(t, concurrency.LimiterConfig{Algorithm: &stub{initial: 4, lo: 1, hi: 4}, Clock: clk})
		}, nil, func(g levee.Gate) error {
			return g.(*concurrency.Limiter).Reconfigure(concurrency.LimiterConfig{Algorithm: &stub{initial: 4, lo: 1, hi: 4}})
		})
	})
}
