package fallback_test

import (
	"context"
	"testing"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/fallback"
	"github.com/levee-go/levee/internal/conformance"
)

func TestConformance(t *testing.T) {
	tests := []struct {
		name  string
		steps func(clk clock.Clock) []fallback.Step[int]
	}{
		{name: "value", steps: func(clock.Clock) []fallback.Step[int] {
			return []fallback.Step[int]{fallback.Value(-1)}
		}},
		{name: "func", steps: func(clock.Clock) []fallback.Step[int] {
			return []fallback.Step[int]{fallback.Func(func(context.Context, error) (int, error) { return -1, nil })}
		}},
		{name: "stale then value", steps: func(clk clock.Clock) []fallback.Step[int] {
			c, err := fallback.NewCache[int](fallback.CacheConfig{Clock: clk})
			if err != nil {
				t.Fatalf("NewCache = %v", err)
			}
			return []fallback.Step[int]{fallback.Stale(c), fallback.Value(-1)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conformance.TestPolicy(t, conformance.Policy{
				New: func(clk clock.Clock) levee.Policy {
					c, err := fallback.New(fallback.Config{Clock: clk}, tt.steps(clk)...)
					if err != nil {
						t.Fatalf("New = %v", err)
					}
					return c
				},
				ZeroAllocs: true,
			})
		})
	}
}
