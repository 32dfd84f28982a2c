package retry_test

import (
	"context"
	"errors"
	"testing"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/retry"
)

// TestZeroValues checks that the zero values of the package's exported
// types do what their documentation says, and never panic.
func TestZeroValues(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"Retry is New(Config{})", func(t *testing.T) {
			var r retry.Retry
			if n := r.MaxAttempts(); n != 3 {
				t.Errorf("MaxAttempts() = %d, want 3", n)
			}
			if d := r.Delay(1, 0); d < 0 {
				t.Errorf("Delay(1, 0) = %v", d)
			}
			var zero retry.Retry
			d := zero.Attempted(context.Background(), levee.Attempt{N: 1, Err: errBoom, Result: levee.Failure})
			if !d.Retry {
				t.Errorf("Attempted after a first failure = %+v, want a retry", d)
			}
		}},
		{"retry.Do with a zero Retry", func(t *testing.T) {
			var r retry.Retry
			if v, err := retry.Do(context.Background(), &r, func(context.Context) (int, error) { return 4, nil }); v != 4 || err != nil {
				t.Errorf("retry.Do = %v, %v; want 4, nil", v, err)
			}
			if _, err := retry.Do(context.Background(), &r, func(context.Context) (int, error) { return 0, retry.NoRetry(errBoom) }); !errors.Is(err, errBoom) {
				t.Errorf("retry.Do = %v, want boom", err)
			}
		}},
		{"RatioBudget is NewRatioBudget(RatioBudgetConfig{})", func(t *testing.T) {
			var b retry.RatioBudget
			b.Request()
			if !b.TryRetry() {
				t.Errorf("TryRetry() on a fresh zero RatioBudget = false, want true (minimum 10/s)")
			}
			if calls, retries := b.Counts(); calls != 1 || retries != 1 {
				t.Errorf("Counts() = %d, %d; want 1, 1", calls, retries)
			}
		}},
		{"TokenBudget and BudgetError", func(t *testing.T) {
			var b retry.TokenBudget
			b.Request()
			b.Outcome(levee.Failure)
			_ = b.TryRetry()
			e := &retry.BudgetError{}
			_, _, _ = e.Error(), e.Err(), e.Unwrap()
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
