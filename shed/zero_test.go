package shed_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/shed"
)

// TestZeroValues: every exported type's zero value works as its doc says or
// returns a clear error; none panics.
func TestZeroValues(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		f    func() error
	}{
		{"Shedder.Acquire", func() error {
			var s shed.Shedder
			if _, err := s.Acquire(ctx); !errors.Is(err, shed.ErrNotBuilt) {
				return fmt.Errorf("Acquire() = %v, want ErrNotBuilt", err)
			}
			return nil
		}},
		{"Shedder.AcquireCriticality", func() error {
			var s shed.Shedder
			if _, err := s.AcquireCriticality(ctx, levee.Sheddable); !errors.Is(err, shed.ErrNotBuilt) {
				return fmt.Errorf("AcquireCriticality() = %v, want ErrNotBuilt", err)
			}
			return nil
		}},
		{"Shedder.Release", func() error { var s shed.Shedder; s.Release(levee.Permit{}, levee.Outcome{}); return nil }},
		{"Shedder.queries", func() error {
			var s shed.Shedder
			if st := s.Stat(); st.MaxInFlight != -1 || st.InFlight != 0 {
				return fmt.Errorf("Stat() = %+v, want MaxInFlight -1, InFlight 0", st)
			}
			_ = s.Stage() + levee.Stage(s.InFlight())
			return nil
		}},
		{"CPUSampler", func() error {
			var c shed.CPUSampler
			_, _, _ = c.Source(), c.Cores(), c.Usage()
			if _, err := c.Sample(); err == nil {
				return errors.New("Sample() = nil error, want one")
			}
			ctx, cancel := context.WithCancel(ctx)
			cancel()
			c.Run(ctx)
			return nil
		}},
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
