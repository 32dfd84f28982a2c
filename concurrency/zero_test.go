package concurrency_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/concurrency"
)

// TestZeroValues: every exported type's zero value works as its doc says or
// returns a clear error; none panics.
func TestZeroValues(t *testing.T) {
	ctx := context.Background()
	w := concurrency.NewWindow(0, int64(time.Second), []time.Duration{time.Millisecond}, 0, 1)
	tests := []struct {
		name string
		f    func() error
	}{
		{"Bulkhead.Acquire", func() error { var b concurrency.Bulkhead; _, err := b.Acquire(ctx); return wantZeroErr(err) }},
		{"Bulkhead.Release", func() error { var b concurrency.Bulkhead; b.Release(levee.Permit{}, levee.Outcome{}); return nil }},
		{"Bulkhead.SetLimit", func() error {
			var b concurrency.Bulkhead
			b.OnEvent(func(levee.Event) {})
			return wantZeroErr(b.SetLimit(3))
		}},
		{"Bulkhead.queries", func() error {
			var b concurrency.Bulkhead
			_ = b.Stage() + levee.Stage(b.InFlight()+b.Queued()+b.Limit())
			return nil
		}},
		{"Limiter.Acquire", func() error { var l concurrency.Limiter; _, err := l.Acquire(ctx); return wantZeroErr(err) }},
		{"Limiter.Release", func() error {
			var l concurrency.Limiter
			l.Release(levee.Permit{}, levee.Outcome{})
			return nil
		}},
		{"Limiter.queries", func() error {
			var l concurrency.Limiter
			_ = l.Stage() + levee.Stage(l.InFlight()+l.Queued()+l.Limit())
			return nil
		}},
		{"AIMD", func() error { var a concurrency.AIMD; return algorithm(&a, w) }},
		{"Vegas", func() error { var v concurrency.Vegas; _ = v.NoLoadRTT(); return algorithm(&v, w) }},
		{"Gradient2", func() error { var g concurrency.Gradient2; _ = g.LongRTT(); return algorithm(&g, w) }},
		{"Gradient", func() error {
			var g concurrency.Gradient
			_, _ = g.MinRTT(), g.Measuring()
			return algorithm(&g, w)
		}},
		{"Window.Quantile", func() error { var w concurrency.Window; _ = w.Quantile(0.5); return nil }},
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

// wantZeroErr checks that err says the value was not built.
func wantZeroErr(err error) error {
	if !errors.Is(err, concurrency.ErrNotBuilt) {
		return fmt.Errorf("error = %v, want ErrNotBuilt", err)
	}
	return nil
}

// algorithm checks that a zero algorithm keeps the limit it is given and
// that NewLimiter refuses it with an error.
func algorithm(a concurrency.Algorithm, w concurrency.Window) error {
	if d := a.Update(w, 10); d.Limit != 10 {
		return fmt.Errorf("Update(w, 10).Limit = %v, want 10 (kept)", d.Limit)
	}
	if _, err := concurrency.NewLimiter(concurrency.LimiterConfig{Algorithm: a}); err == nil {
		return errors.New("NewLimiter with it = nil error, want one")
	}
	return nil
}
