package concurrency_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/concurrency"
)

// TestSettleTwiceFreesOneSlot is the report of issue 12: a permit settled
// twice freed two slots, so a bulkhead of one admitted two calls.
func TestSettleTwiceFreesOneSlot(t *testing.T) {
	newBulkhead := func(t *testing.T) levee.Gate {
		b, err := concurrency.NewBulkhead(concurrency.BulkheadConfig{MaxConcurrent: 1})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	newLimiter := func(t *testing.T) levee.Gate {
		l, err := concurrency.NewLimiter(concurrency.LimiterConfig{Algorithm: mustAIMD(t)})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	tests := []struct {
		name   string
		new    func(t *testing.T) levee.Gate
		settle func(p levee.Permit, r levee.Releaser)
	}{
		{name: "bulkhead, Done twice", new: newBulkhead, settle: func(p levee.Permit, _ levee.Releaser) { p.Done(nil) }},
		{name: "bulkhead, Record after Done", new: newBulkhead, settle: func(p levee.Permit, _ levee.Releaser) {
			p.Record(levee.Outcome{Result: levee.Failure})
		}},
		{name: "bulkhead, forged", new: newBulkhead, settle: func(p levee.Permit, r levee.Releaser) {
			levee.NewPermit(r, 0, 0).Done(nil)
		}},
		{name: "limiter, Done twice", new: newLimiter, settle: func(p levee.Permit, _ levee.Releaser) { p.Done(nil) }},
		{name: "limiter, forged", new: newLimiter, settle: func(p levee.Permit, r levee.Releaser) {
			levee.NewPermit(r, p.Token()+1<<32, 0).Done(nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.new(t)
			ctx := context.Background()
			p, err := g.Acquire(ctx)
			if err != nil {
				t.Fatalf("Acquire() = %v, want admission", err)
			}
			p.Done(nil)
			// A second call takes the one slot; then the first permit is
			// settled again, which must not free the slot the second holds.
			second, err := g.Acquire(ctx)
			if err != nil {
				t.Fatalf("second Acquire() = %v, want admission", err)
			}
			tt.settle(p, g.(levee.Releaser))
			if third, err := g.Acquire(ctx); !errors.Is(err, levee.ErrRejected) {
				third.Done(nil)
				t.Fatalf("Acquire() while the one slot is held = %v, want a rejection", err)
			}
			if n := g.(slotted).InFlight(); n != 1 {
				t.Errorf("InFlight() = %d, want 1", n)
			}
			second.Done(nil)
			second.Done(nil)
			if n := g.(slotted).InFlight(); n != 0 {
				t.Errorf("InFlight() after settling = %d, want 0", n)
			}
		})
	}
}

func mustAIMD(t *testing.T) *concurrency.AIMD {
	t.Helper()
	a, err := concurrency.NewAIMD(concurrency.AIMDConfig{InitialLimit: 1, MinLimit: 1, MaxLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestSettleTwiceConcurrently: copies of permits settled at once from two
// goroutines free each slot once, so the count comes back to zero and no
// call beyond the limit is ever admitted.
func TestSettleTwiceConcurrently(t *testing.T) {
	const limit = 4
	b, err := concurrency.NewBulkhead(concurrency.BulkheadConfig{MaxConcurrent: limit})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	var over atomic.Int64
	for range 8 {
		wg.Go(func() {
			for range 2000 {
				p, err := b.Acquire(ctx)
				if err != nil {
					continue
				}
				if n := b.InFlight(); n > limit {
					over.Store(int64(n))
				}
				done := make(chan struct{})
				go func() { p.Done(nil); close(done) }()
				p.Done(nil)
				<-done
			}
		})
	}
	wg.Wait()
	if n := over.Load(); n != 0 {
		t.Errorf("InFlight() reached %d, want at most %d", n, limit)
	}
	if n := b.InFlight(); n != 0 {
		t.Errorf("InFlight() after every permit was settled twice = %d, want 0", n)
	}
}
