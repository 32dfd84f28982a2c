package breaker_test

import (
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/internal/conformance"
)

func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		cfg  breaker.Config
	}{
		// The suite's calls fail up to half the time: the failure rate
		// is set out of reach so that the breaker stays closed.
		{name: "count window", cfg: breaker.Config{FailureRate: -1}},
		{name: "time window", cfg: breaker.Config{FailureRate: -1, WindowDuration: time.Minute}},
		{name: "slow calls", cfg: breaker.Config{FailureRate: -1, SlowCallDuration: time.Hour}},
		{name: "high threshold", cfg: breaker.Config{FailureRate: 100, MinCalls: 100, WindowSize: 100000}},
		{name: "metrics only", cfg: breaker.Config{ConsecutiveFailures: 1}},
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
					if tt.name == "metrics only" {
						b.MetricsOnly()
					}
					return b
				},
				Replenishes: true,
				ZeroAllocs:  true,
				Failures:    func(g levee.Gate) int { return int(g.(*breaker.Breaker).Snapshot().Failures) },
			})
		})
	}
}
