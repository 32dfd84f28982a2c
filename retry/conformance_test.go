package retry_test

import (
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/internal/conformance"
	"github.com/levee-go/levee/retry"
)

func TestConformance(t *testing.T) {
	// Waits of a minute or more, so that a wait on the real clock shows.
	base := retry.Config{BaseDelay: time.Minute, MaxDelay: time.Hour}
	tests := []struct {
		name   string
		cfg    retry.Config
		budget func(clk clock.Clock) (retry.Budget, error)
	}{
		{name: "exponential, full jitter", cfg: base},
		{name: "constant, no jitter", cfg: retry.Config{Backoff: retry.Constant, Jitter: retry.JitterNone, BaseDelay: time.Minute, MaxDelay: time.Minute}},
		{name: "decorrelated jitter, five attempts", cfg: retry.Config{MaxAttempts: 5, Jitter: retry.JitterDecorrelated, BaseDelay: time.Minute, MaxDelay: time.Hour}},
		{name: "token budget", cfg: base, budget: func(clock.Clock) (retry.Budget, error) {
			return retry.NewTokenBudget(retry.TokenBudgetConfig{})
		}},
		{name: "ratio budget", cfg: base, budget: func(clk clock.Clock) (retry.Budget, error) {
			return retry.NewRatioBudget(retry.RatioBudgetConfig{Clock: clk})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conformance.TestPolicy(t, conformance.Policy{
				New: func(clk clock.Clock) levee.Policy {
					cfg := tt.cfg
					cfg.Clock = clk
					if tt.budget != nil {
						b, err := tt.budget(clk)
						if err != nil {
							t.Fatalf("new budget: %v", err)
						}
						cfg.Budget = b
					}
					r, err := retry.New(cfg)
					if err != nil {
						t.Fatalf("New(%+v) = %v", cfg, err)
					}
					return r
				},
				ZeroAllocs: true,
			})
		})
	}
}
