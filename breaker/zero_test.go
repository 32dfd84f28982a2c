package breaker_test

import (
	"context"
	"testing"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
)

// TestZeroValues checks that the zero value of every exported type of the
// package does what its documentation says, and never panics.
func TestZeroValues(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"Breaker admits and settles like New(Config{})", func(t *testing.T) {
			var b breaker.Breaker
			if s := b.State(); s != breaker.Closed {
				t.Errorf("State() = %v, want closed", s)
			}
			p, err := b.Allow()
			if err != nil {
				t.Fatalf("Allow() = %v", err)
			}
			p.Done(nil)
			if s := b.Snapshot(); s.Calls != 1 || s.State != breaker.Closed {
				t.Errorf("Snapshot() = %s with %d calls, want closed with 1", s.State, s.Calls)
			}
			if _, err := levee.Do(context.Background(), levee.New(&b), func(context.Context) (int, error) { return 1, nil }); err != nil {
				t.Errorf("Do through a zero Breaker = %v", err)
			}
		}},
		{"Breaker manual states", func(t *testing.T) {
			var b breaker.Breaker
			b.ForceOpen()
			if _, err := b.Acquire(context.Background()); err == nil {
				t.Errorf("Acquire() after ForceOpen = nil, want a rejection")
			}
			var c breaker.Breaker
			c.Reset()
			var d breaker.Breaker
			d.Disable()
			var e breaker.Breaker
			e.MetricsOnly()
			var f breaker.Breaker
			f.OnEvent(func(levee.Event) {})()
			_ = f.Name()
			_ = f.Stage()
		}},
		{"Config, Snapshot, Trip, State, ConfigError", func(t *testing.T) {
			if _, err := breaker.New(breaker.Config{}); err != nil {
				t.Errorf("New(Config{}) = %v", err)
			}
			_ = breaker.State(0).String()
			_ = (&breaker.ConfigError{}).Error()
			_ = breaker.Snapshot{}
			_ = breaker.Trip{}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic: %v", r)
				}
			}()
			tt.run(t)
		})
	}
}
