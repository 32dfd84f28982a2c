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

// slotted is a gate with a number of slots: the bulkhead and the adaptive
// limiter.
type slotted interface {
	levee.Gate
	InFlight() int
	Limit() int
}

// fill takes every free slot of a bulkhead or an adaptive limiter and
// returns the queue wait and a function that gives the slots back.
func fill(g levee.Gate, wait time.Duration) (time.Duration, func()) {
	b := g.(slotted)
	var ps []levee.Permit
	for b.InFlight() < b.Limit() {
		p, err := b.Acquire(context.Background())
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

func TestBulkheadConformance(t *testing.T) {
	tests := []struct {
		name string
		cfg  concurrency.BulkheadConfig
	}{
		{name: "no queue", cfg: concurrency.BulkheadConfig{MaxConcurrent: 2}},
		{name: "queue", cfg: concurrency.BulkheadConfig{MaxConcurrent: 2, MaxQueue: 4}},
		{name: "queue with wait", cfg: concurrency.BulkheadConfig{MaxConcurrent: 2, MaxQueue: 4, MaxWait: time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := conformance.Gate{
				New: func(clk clock.Clock) levee.Gate {
					cfg := tt.cfg
					cfg.Clock = clk
					b, err := concurrency.NewBulkhead(cfg)
					if err != nil {
						t.Fatalf("NewBulkhead(%+v) = %v", cfg, err)
					}
					return b
				},
				Replenishes: true,
				ZeroAllocs:  true,
				WaitErr:     levee.ErrBulkheadFull,
			}
			if tt.cfg.MaxQueue > 0 {
				c.Block = func(g levee.Gate) (time.Duration, func()) { return fill(g, tt.cfg.MaxWait) }
			}
			conformance.TestGate(t, c)
		})
	}
}
