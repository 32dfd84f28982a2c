package breaker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/internal/conformance"
)

// forceOpen holds the breaker open until Reset.
func forceOpen(g levee.Gate) (time.Duration, error) {
	g.(*breaker.Breaker).ForceOpen()
	return 0, levee.ErrOpen
}

// trip fails n calls in a row, which opens a breaker configured with
// ConsecutiveFailures n; it stays open for wait.
func trip(n int, wait time.Duration) func(g levee.Gate) (time.Duration, error) {
	return func(g levee.Gate) (time.Duration, error) {
		b := g.(*breaker.Breaker)
		for range n {
			p, err := b.Acquire(context.Background())
			if err != nil {
				panic(err)
			}
			p.Done(errors.New("down"))
		}
		if s := b.State(); s != breaker.Open {
			panic("breaker did not trip: " + s.String())
		}
		return wait, levee.ErrOpen
	}
}

func TestConformance(t *testing.T) {
	tests := []struct {
		name        string
		cfg         breaker.Config
		metricsOnly bool
		refuse      func(g levee.Gate) (time.Duration, error)
	}{
		// The suite's calls fail up to half the time: the failure rate
		// is set out of reach so that the breaker stays closed until
		// Refuse opens it.
		{name: "count window", cfg: breaker.Config{FailureRate: -1}, refuse: forceOpen},
		{name: "time window", cfg: breaker.Config{FailureRate: -1, WindowDuration: time.Minute}, refuse: forceOpen},
		{name: "slow calls", cfg: breaker.Config{FailureRate: -1, SlowCallDuration: time.Hour}, refuse: forceOpen},
		{name: "high threshold", cfg: breaker.Config{FailureRate: 100, MinCalls: 100, WindowSize: 100000}, refuse: forceOpen},
		{name: "tripped", cfg: breaker.Config{FailureRate: -1, ConsecutiveFailures: 1000, OpenWait: time.Minute},
			refuse: trip(1000, time.Minute)},
		{name: "tripped, time window", cfg: breaker.Config{FailureRate: -1, WindowDuration: time.Minute, ConsecutiveFailures: 1000, OpenWait: time.Hour},
			refuse: trip(1000, time.Hour)},
		{name: "metrics only", cfg: breaker.Config{ConsecutiveFailures: 1}, metricsOnly: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conformance.TestGate(t, conformance.Gate{
				New: func(clk clock.Clock) levee.Gate {
					cfg := tt.cfg
					cfg.Clock = clk
					b, err := breaker.New(cfg)
					if err != nil {
						t.Fatalf("New(%+v) = %v", cfg, err)
					}
					if tt.metricsOnly {
						b.MetricsOnly()
					}
					return b
				},
				Replenishes: true,
				ZeroAllocs:  true,
				// An open breaker shares one rejection while it holds.
				ZeroAllocRefusals: true,
				Failures:          func(g levee.Gate) int { return int(g.(*breaker.Breaker).Snapshot().Failures) },
				Refuse:            tt.refuse,
			})
		})
	}
}
