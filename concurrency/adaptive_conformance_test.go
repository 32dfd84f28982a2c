package concurrency_test

import (
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/concurrency"
	"github.com/levee-go/levee/internal/conformance"
)

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
				c.Block = func(g levee.Gate) (time.Duration, func()) { return fill(g, tt.cfg.MaxWait) }
			}
			conformance.TestGate(t, c)
		})
	}
}
