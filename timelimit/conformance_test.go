package timelimit_test

import (
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/internal/conformance"
	"github.com/levee-go/levee/timelimit"
)

func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		cfg  timelimit.Config
	}{
		{name: "per attempt", cfg: timelimit.Config{Timeout: time.Hour}},
		{name: "total", cfg: timelimit.Config{Timeout: time.Hour, Total: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conformance.TestPolicy(t, conformance.Policy{
				New: func(clk clock.Clock) levee.Policy {
					cfg := tt.cfg
					cfg.Clock = clk
					tl, err := timelimit.New(cfg)
					if err != nil {
						t.Fatalf("New(%+v) = %v", cfg, err)
					}
					return tl
				},
			})
		})
	}
}
