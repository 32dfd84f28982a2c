package levee_test

import (
	"context"
	"errors"
	"testing"

	"github.com/levee-go/levee"
)

// noPanic runs f and fails t if it panics.
func noPanic(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("panic: %v", r)
		}
	}()
	f(t)
}

// TestZeroValues checks that the zero value of each exported type of the
// execution model does what its documentation says, and never panics.
func TestZeroValues(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"Pipeline runs the call", func(t *testing.T) {
			var p levee.Pipeline
			if v, err := levee.Do(ctx, &p, func(context.Context) (int, error) { return 7, nil }); v != 7 || err != nil {
				t.Errorf("Do(zero Pipeline) = %v, %v; want 7, nil", v, err)
			}
			if n := len(p.Policies()); n != 0 {
				t.Errorf("Policies() has %d, want 0", n)
			}
			p.OnEvent(func(levee.Event) {})()
		}},
		{"Next returns ErrZeroNext", func(t *testing.T) {
			if _, err := (levee.Next{}).Run(ctx); !errors.Is(err, levee.ErrZeroNext) {
				t.Errorf("Next{}.Run = %v, want ErrZeroNext", err)
			}
		}},
		{"Permit settles to nothing", func(t *testing.T) {
			levee.Permit{}.Done(nil)
			levee.Permit{}.Record(levee.Outcome{})
		}},
		{"RejectionError matches ErrRejected", func(t *testing.T) {
			e := &levee.RejectionError{}
			if !errors.Is(e, levee.ErrRejected) || e.Error() == "" {
				t.Errorf("zero RejectionError = %q, want a rejection", e)
			}
			if d, ok := levee.RetryAfter(e); d != 0 || !ok {
				t.Errorf("RetryAfter(zero RejectionError) = %v, %v; want 0, true", d, ok)
			}
		}},
		{"PanicError, Listeners, Config, Outcome", func(t *testing.T) {
			_ = (&levee.PanicError{}).Error()
			var l levee.Listeners
			l.Emit(levee.Event{})
			l.Add(func(levee.Event) {})()
			if l.Active() {
				t.Errorf("Listeners.Active() after remove = true")
			}
			if _, err := levee.NewPipeline(levee.Config{}); err != nil {
				t.Errorf("NewPipeline(Config{}) = %v", err)
			}
			_ = levee.Outcome{}.Result.String()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { noPanic(t, tt.run) })
	}
}
