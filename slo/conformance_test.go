package slo_test

import (
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/internal/conformance"
	"github.com/levee-go/levee/slo"
)

func TestConformance(t *testing.T) {
	// A three-day window (the longest of the default alerts) in five-minute
	// buckets keeps the suite's many SLOs cheap.
	small := slo.Config{Window: 72 * time.Hour, Bucket: 5 * time.Minute}
	newSLO := func(t *testing.T, cfg slo.Config, clk clock.Clock) *slo.SLO {
		t.Helper()
		cfg.Clock = clk
		s, err := slo.New(cfg)
		if err != nil {
			t.Fatalf("New(%+v) = %v", cfg, err)
		}
		return s
	}
	latency := small
	latency.Latency = 300 * time.Millisecond
	tests := []struct {
		name     string
		new      func(t *testing.T, clk clock.Clock) levee.Gate
		failures func(g levee.Gate) int
	}{
		{
			name:     "availability",
			new:      func(t *testing.T, clk clock.Clock) levee.Gate { return newSLO(t, small, clk) },
			failures: func(g levee.Gate) int { return int(g.(*slo.SLO).Totals().Bad()) },
		},
		{
			name: "latency",
			new:  func(t *testing.T, clk clock.Clock) levee.Gate { return newSLO(t, latency, clk) },
		},
		{
			name: "group",
			new: func(t *testing.T, clk clock.Clock) levee.Gate {
				return slo.NewGroup(newSLO(t, small, clk), newSLO(t, latency, clk))
			},
			failures: func(g levee.Gate) int { return int(g.(*slo.Group).SLOs()[0].Totals().Bad()) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conformance.TestGate(t, conformance.Gate{
				New:         func(clk clock.Clock) levee.Gate { return tt.new(t, clk) },
				Replenishes: true,
				ZeroAllocs:  true,
				Failures:    tt.failures,
			})
		})
	}
}

// TestSettleOnce counts every outcome an SLO records, good or bad, so that
// a permit of a latency SLO settled twice shows too.
func TestSettleOnce(t *testing.T) {
	cfg := slo.Config{Window: 72 * time.Hour, Bucket: 5 * time.Minute, Latency: 300 * time.Millisecond}
	newSLO := func(clk clock.Clock) *slo.SLO {
		cfg := cfg
		cfg.Clock = clk
		s, err := slo.New(cfg)
		if err != nil {
			t.Fatalf("New(%+v) = %v", cfg, err)
		}
		return s
	}
	recorded := func(s *slo.SLO) int { return int(s.Totals().Total) }
	t.Run("slo", func(t *testing.T) {
		conformance.SettleOnce(t, func(clk clock.Clock) levee.Gate { return newSLO(clk) },
			func(g levee.Gate) int { return recorded(g.(*slo.SLO)) })
	})
	t.Run("group", func(t *testing.T) {
		conformance.SettleOnce(t, func(clk clock.Clock) levee.Gate { return slo.NewGroup(newSLO(clk)) },
			func(g levee.Gate) int { return recorded(g.(*slo.Group).SLOs()[0]) })
	})
}
