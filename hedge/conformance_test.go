package hedge_test

import (
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/hedge"
	"github.com/levee-go/levee/internal/conformance"
)

func TestConformance(t *testing.T) {
	tests := []struct {
		name   string
		cfg    hedge.Config
		hedges int
	}{
		// Delays of a minute or more, so that a wait on the real clock
		// shows.
		{name: "one hedge", cfg: hedge.Config{Delay: time.Minute}, hedges: 1},
		{name: "three hedges", cfg: hedge.Config{MaxHedges: 3, Delay: time.Minute}, hedges: 3},
		{name: "percentile", cfg: hedge.Config{Delay: time.Minute, Percentile: 0.95}, hedges: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conformance.TestPolicy(t, conformance.Policy{
				New: func(clk clock.Clock) levee.Policy {
					cfg := tt.cfg
					cfg.Clock = clk
					h, err := hedge.New(cfg)
					if err != nil {
						t.Fatalf("New(%+v) = %v", cfg, err)
					}
					return h
				},
				// The suite moves the clock while the first attempt
				// panics: a hedge may start before the panic arrives.
				Hedges: tt.hedges,
			})
		})
	}
}
