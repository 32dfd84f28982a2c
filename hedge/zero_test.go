package hedge_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/hedge"
)

// TestZeroValues checks that the zero Hedger works as New(Config{}) does,
// and never panics.
func TestZeroValues(t *testing.T) {
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("panic: %v", r)
		}
	}()
	var h hedge.Hedger
	if d := h.Delay(); d != 100*time.Millisecond {
		t.Errorf("zero Hedger Delay() = %v, want 100ms", d)
	}
	var zero hedge.Hedger
	if v, err := levee.Do(context.Background(), levee.New(&zero), func(context.Context) (int, error) { return 3, nil }); v != 3 || err != nil {
		t.Errorf("Do through a zero Hedger = %v, %v; want 3, nil", v, err)
	}
}

// TestAllocs pins the cost of a call that answers before the hedge delay:
// the attempts' context and the first attempt's goroutine.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	p := levee.New(mustNew(t, hedge.Config{Delay: time.Hour}))
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	if n := testing.AllocsPerRun(1000, func() { _, _ = levee.Do(ctx, p, fn) }); n > 2 {
		t.Errorf("levee.Do(hedge) allocs = %v, want <= 2", n)
	}
}

// TestLoserContextsEnd checks that the attempts' context ends the losers
// however they wait: on its Done channel, or on a context derived from it;
// and that it then reports context.Canceled for good.
func TestLoserContextsEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{MaxHedges: 2, Delay: time.Millisecond})
		var n atomic.Int32
		ended := make(chan error, 2)
		v, err := levee.Do(context.Background(), levee.New(h), func(ctx context.Context) (int, error) {
			switch n.Add(1) {
			case 1:
				<-ctx.Done()
			case 2:
				d, cancel := context.WithCancel(ctx)
				defer cancel()
				<-d.Done()
			default:
				return 3, nil
			}
			ended <- ctx.Err()
			return 0, ctx.Err()
		})
		if v != 3 || err != nil {
			t.Fatalf("Do = %v, %v; want 3, nil", v, err)
		}
		for range 2 {
			if err := <-ended; !errors.Is(err, context.Canceled) {
				t.Errorf("loser's ctx.Err() = %v, want context.Canceled", err)
			}
		}
	})
}
