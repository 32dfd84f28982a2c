package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/internal/conformance"
	"github.com/levee-go/levee/ratelimit"
)

// conformanceBurst is large enough for every admission the suite makes on a
// clock that does not move, so that the allocation checks see admissions.
const conformanceBurst = 100_000

func TestConformance(t *testing.T) {
	limited := ratelimit.Config{Rate: ratelimit.Every(time.Minute), Burst: conformanceBurst}
	tests := []struct {
		name string
		// Replenishes: an unlimited limiter admits any number of calls.
		replenishes bool
		new         func(clk clock.Clock) (levee.Gate, error)
		refuse      func(g levee.Gate) (time.Duration, error)
		// refusalAllocs: Keyed documents that a refusal allocates its
		// error, whose wait is the key's.
		refusalAllocs bool
	}{
		{name: "GCRA", new: func(clk clock.Clock) (levee.Gate, error) {
			cfg := limited
			cfg.Clock = clk
			return gate(ratelimit.NewGCRA(cfg))
		}, refuse: drainAllow(time.Minute)},
		{name: "GCRA warm-up", new: func(clk clock.Clock) (levee.Gate, error) {
			cfg := limited
			cfg.Rate = ratelimit.PerSecond(1)
			cfg.WarmUp = time.Hour
			cfg.Clock = clk
			return gate(ratelimit.NewGCRA(cfg))
		}},
		{name: "GCRA unlimited", replenishes: true, new: func(clk clock.Clock) (levee.Gate, error) {
			return gate(ratelimit.NewGCRA(ratelimit.Config{Clock: clk}))
		}},
		{name: "TokenBucket", new: func(clk clock.Clock) (levee.Gate, error) {
			cfg := limited
			cfg.Clock = clk
			return gate(ratelimit.NewTokenBucket(cfg))
		}, refuse: drainAllow(time.Minute)},
		{name: "TokenBucket unlimited", replenishes: true, new: func(clk clock.Clock) (levee.Gate, error) {
			return gate(ratelimit.NewTokenBucket(ratelimit.Config{Clock: clk}))
		}},
		{name: "SlidingWindow", new: func(clk clock.Clock) (levee.Gate, error) {
			return gate(ratelimit.NewSlidingWindow(ratelimit.WindowConfig{
				Rate:  ratelimit.Rate{Events: conformanceBurst, Per: time.Minute},
				Clock: clk,
			}))
		}, refuse: drainAllow(0)},
		{name: "SlidingWindow unlimited", replenishes: true, new: func(clk clock.Clock) (levee.Gate, error) {
			return gate(ratelimit.NewSlidingWindow(ratelimit.WindowConfig{Clock: clk}))
		}},
		{name: "Keyed", new: func(clk clock.Clock) (levee.Gate, error) {
			return gate(ratelimit.NewKeyed(ratelimit.KeyedConfig{
				Rate:  ratelimit.Every(time.Minute),
				Burst: conformanceBurst,
				Clock: clk,
			}))
		}, refuse: drainAllow(time.Minute), refusalAllocs: true},
		{name: "Keyed override", new: func(clk clock.Clock) (levee.Gate, error) {
			return gate(ratelimit.NewKeyed(ratelimit.KeyedConfig{
				Rate:      ratelimit.Every(time.Hour),
				Burst:     1,
				Overrides: map[string]ratelimit.Override{"tenant": {Rate: ratelimit.Every(time.Minute), Burst: conformanceBurst}},
				Key:       func(context.Context) string { return "tenant" },
				Clock:     clk,
			}))
		}, refuse: drainAllow(time.Minute), refusalAllocs: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conformance.TestGate(t, conformance.Gate{
				New: func(clk clock.Clock) levee.Gate {
					g, err := tt.new(clk)
					if err != nil {
						t.Fatalf("new limiter: %v", err)
					}
					return g
				},
				Replenishes:       tt.replenishes,
				ZeroAllocs:        true,
				ZeroAllocRefusals: !tt.refusalAllocs,
				Refuse:            tt.refuse,
			})
		})
	}
}

// drainAllow returns a Refuse that takes every call the limiter admits on
// its still clock, after which the next is lasts away (zero: a sliding
// window, whose refusal ends gradually as its previous window's weight
// fades).
func drainAllow(lasts time.Duration) func(g levee.Gate) (time.Duration, error) {
	return func(g levee.Gate) (time.Duration, error) {
		for {
			p, err := g.Acquire(context.Background())
			if err != nil {
				break
			}
			p.Done(nil)
		}
		return lasts, levee.ErrLimited
	}
}

// waitGate admits through TokenBucket.Wait, so that the suite checks the
// waiting path: cancellation, the clock, leaks.
type waitGate struct{ b *ratelimit.TokenBucket }

func (g waitGate) Stage() levee.Stage { return g.b.Stage() }

func (g waitGate) Acquire(ctx context.Context) (levee.Permit, error) {
	if err := g.b.Wait(ctx); err != nil {
		return levee.Permit{}, err
	}
	return levee.Permit{}, nil
}

// drain takes every token of b, so that the next one is a whole interval
// away on a clock that does not move.
func drain(b *ratelimit.TokenBucket) {
	for n := b.Burst(); n > 0; {
		if !b.AllowN(n) {
			n /= 2
		}
	}
}

func TestConformanceWait(t *testing.T) {
	tests := []struct {
		name string
		cfg  ratelimit.Config
		wait time.Duration
	}{
		// The burst covers every call the suite makes on its still
		// clock, except after Block drains the bucket.
		{name: "one a minute", cfg: ratelimit.Config{Rate: ratelimit.Every(time.Minute), Burst: conformanceBurst}, wait: time.Minute},
		{name: "warm-up", cfg: ratelimit.Config{Rate: ratelimit.Every(time.Minute), Burst: conformanceBurst, WarmUp: time.Hour}, wait: 3 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conformance.TestGate(t, conformance.Gate{
				New: func(clk clock.Clock) levee.Gate {
					cfg := tt.cfg
					cfg.Clock = clk
					b, err := ratelimit.NewTokenBucket(cfg)
					if err != nil {
						t.Fatalf("NewTokenBucket(%+v) = %v", cfg, err)
					}
					return waitGate{b}
				},
				ZeroAllocs: true,
				Block: func(g levee.Gate) (time.Duration, func()) {
					drain(g.(waitGate).b)
					return tt.wait, func() {}
				},
			})
		})
	}
}

// gate passes on a constructor's results as a gate.
func gate[G levee.Gate](g G, err error) (levee.Gate, error) { return g, err }
