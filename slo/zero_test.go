package slo_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/slo"
)

// TestZeroValues: every exported type's zero value works as its doc says or
// returns a clear error; none panics.
func TestZeroValues(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		f    func() error
	}{
		{"SLO.Acquire", func() error {
			var s slo.SLO
			if _, err := s.Acquire(ctx); !errors.Is(err, slo.ErrNotBuilt) {
				return fmt.Errorf("Acquire() = %v, want ErrNotBuilt", err)
			}
			return nil
		}},
		{"SLO.Release", func() error { var s slo.SLO; s.Release(levee.Permit{}, levee.Outcome{}); return nil }},
		{"SLO.Record", func() error {
			var s slo.SLO
			s.Record(levee.Outcome{Result: levee.Failure})
			s.RecordAt(time.Now(), levee.Outcome{})
			return nil
		}},
		{"SLO.queries", func() error {
			var s slo.SLO
			_, _, _, _ = s.Counts(time.Hour), s.Totals(), s.SLI(), s.ErrorRatio(time.Hour)
			_, _, _, _ = s.BurnRate(time.Hour), s.Budget(), s.TimeToExhaustion(time.Hour), s.Status()
			_, _, _, _ = s.Evaluate(), s.Firing(), s.Alerting("page"), s.Pressure("page")
			_, _, _ = s.Name(), s.Config(), s.Stage()
			return nil
		}},
		{"SLO.StartStop", func() error { var s slo.SLO; s.Start(); s.Stop(); return nil }},
		{"Group", func() error {
			var g slo.Group
			p, err := g.Acquire(ctx)
			if err != nil {
				return fmt.Errorf("Acquire() = %v, want admission (an empty group admits every call)", err)
			}
			p.Done(nil)
			g.Record(levee.Outcome{})
			g.RecordAt(time.Now(), levee.Outcome{})
			_, _ = g.SLOs(), g.Stage()
			return nil
		}},
		{"Gate", func() error { var g slo.Gate; _ = g.Check(); return nil }},
		{"SelfCheck", func() error {
			var c slo.SelfCheck
			_ = c.Result()
			ctx, cancel := context.WithTimeout(ctx, time.Millisecond)
			defer cancel()
			_, _ = c.Wait(ctx)
			return nil
		}},
		{"Tightener", func() error { var tt slo.Tightener; _, _ = tt.Active(), tt.Pressure(); tt.Close(); return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("panicked: %v", r)
					}
				}()
				err = tt.f()
			}()
			if err != nil {
				t.Errorf("zero %s: %v", tt.name, err)
			}
		})
	}
}
