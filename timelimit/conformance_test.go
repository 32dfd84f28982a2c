package timelimit_test

import (
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/internal/conformance"
	"github.com/levee-go/levee/timelimit"
)

// TestConformance runs the suite with a limit far beyond what any of its
// calls should take: the suite moves the fake clock on whenever a timer is
// pending, and the limit's own timer always is, so a short limit could
// expire before a slow-to-run call (a loaded machine) had panicked or
// returned.
func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		cfg  timelimit.Config
	}{
		{name: "per attempt", cfg: timelimit.Config{Timeout: 1000 * time.Hour}},
		{name: "total", cfg: timelimit.Config{Timeout: 1000 * time.Hour, Total: true}},
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
