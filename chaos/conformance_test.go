package chaos_test

import (
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/chaos"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/internal/conformance"
)

func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		cfg  chaos.Config
	}{
		{name: "off", cfg: chaos.Config{Disabled: true, Faults: []chaos.Fault{chaos.Error(100, errBoom)}}},
		{name: "no faults", cfg: chaos.Config{}},
		{name: "on, never hits", cfg: chaos.Config{Faults: []chaos.Fault{chaos.Error(0, errBoom), chaos.Latency(0, time.Hour)}}},
		{name: "on, no match", cfg: chaos.Config{Faults: []chaos.Fault{chaos.Panic(100, "x").When(chaos.MatchTag("never"))}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conformance.TestGate(t, conformance.Gate{
				New: func(clk clock.Clock) levee.Gate {
					cfg := tt.cfg
					cfg.Clock = clk
					return newInjector(t, cfg)
				},
				Replenishes: true,
				ZeroAllocs:  true,
				// An injected delay is the injector's wait: it must run
				// on the clock and end with the caller's context.
				Block: func(g levee.Gate) (time.Duration, func()) {
					in := g.(*chaos.Injector)
					old, wasOn := in.Faults(), in.Enabled()
					in.Enable()
					if err := in.Set(chaos.Latency(100, time.Hour)); err != nil {
						t.Fatalf("Set(Latency) = %v", err)
					}
					return time.Hour, func() {
						_ = in.Set(old...)
						if !wasOn {
							in.Disable()
						}
					}
				},
			})
		})
	}
}
