package timelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/timelimit"
)

// TestZeroValues checks that the zero values of the package's exported
// types do what their documentation says, and never panic.
func TestZeroValues(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"Timelimit is New(Config{})", func(t *testing.T) {
			var tl timelimit.Timelimit
			if tl.Timeout() != time.Second || tl.Stage() != levee.StageTimeout {
				t.Errorf("zero Timelimit: timeout %v, stage %v; want 1s, StageTimeout", tl.Timeout(), tl.Stage())
			}
			var zero timelimit.Timelimit
			_, err := levee.Do(context.Background(), levee.New(&zero), func(ctx context.Context) (int, error) {
				if _, ok := ctx.Deadline(); !ok {
					t.Errorf("call under a zero Timelimit has no deadline")
				}
				return 1, nil
			})
			if err != nil {
				t.Errorf("Do = %v", err)
			}
		}},
		{"TimeoutError", func(t *testing.T) {
			if (&timelimit.TimeoutError{}).Error() == "" {
				t.Errorf("zero TimeoutError has no message")
			}
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
