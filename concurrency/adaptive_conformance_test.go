package concurrency_test

import (
	"context"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/concurrency"
	"github.com/levee-go/levee/internal/conformance"
)

// fillLimiter takes every free slot of the limiter and returns the queue
// wait and a function that gives the slots back.
func fillLimiter(g levee.Gate, wait time.Duration) (time.Duration, func()) {
	l := g.(*concurrency.Limiter)
	var ps []levee.Permit
	for l.InFlight() < l.Limit() {
		p, err := l.Acquire(context.Background())
		if err != nil {
			panic(err)
		}
		ps = append(ps, p)
	}
	return wait, func() {
		for _, p := range ps {
			p.Done(nil)
		}
		ps = nil
	}
}

func TestLimiterConformance(t *testing.T) {
	tests := []struct {
		name string
		cfg  concurrency.LimiterConfig
	}{
		{name: "no queue", cfg: concurrency.LimiterConfig{}},
		{name: "queue", cfg: concurrency.LimiterConfig{MaxQueue: 4}},
		{name: "lifo queue with wait", cfg: concurrency.LimiterConfig{MaxQueue: 4, LIFO: true, MaxWait: time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := conformance.Gate{
				New: func(clk clock.Clock) levee.Gate {
					cfg := tt.cfg
					cfg.Clock = clk
					l, err := concurrency.NewLimiter(cfg)
					if err != nil {
						t.Fatalf("NewLimiter(%+v) = %v", cfg, err)
					}
					return l
				},
				Replenishes: true,
				ZeroAllocs:  true,
				WaitErr:     levee.ErrShed,
			}
			if tt.cfg.MaxQueue > 0 {
				c.Block = func(g levee.Gate) (time.Duration, func()) { return fillLimiter(g, tt.cfg.MaxWait) }
			}
			conformance.TestGate(t, c)
		})
	}
}
