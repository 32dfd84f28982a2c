package conformance

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/clock/clocktest"
)

// Policy describes any [levee.Policy] to [TestPolicy]: a gate, a retrier,
// a scoper, a fallback for int results, or a wrapper.
type Policy struct {
	// New returns a fresh policy, built on clk, that lets a successful call
	// through with its value and keeps running calls after a few dozen
	// failures. Required; called once per check.
	New func(clk clock.Clock) levee.Policy

	// ZeroAllocs says that a successful call through [levee.Do] with this
	// policy alone costs no heap allocation.
	ZeroAllocs bool

	// Hedges is how many extra copies of a call the policy may start while
	// the call runs, once its clock has moved (a hedger's MaxHedges): the
	// suite moves the clock whenever a timer is pending, so a hedger may
	// find its first attempt slow before that attempt's panic reaches it.
	// The panic check then accepts up to 1+Hedges calls, each of which
	// panics, and still wants the panic re-raised once with its own value.
	// Zero means none: a panicking call is made exactly once.
	Hedges int

	// Step is how far the suite moves the clock each time the policy has a
	// timer pending while a failing call runs (a backoff, a hedge delay, a
	// time limit). Zero means one minute. Give the policy waits of a
	// minute or more, so that waiting on the real clock instead shows.
	Step time.Duration

	// Guard bounds, on the real clock, how long the suite waits for what
	// should happen at once. Zero means [DefaultGuard].
	Guard time.Duration
}

// TestPolicy runs the conformance checks every policy must pass through
// [levee.Do]: a successful call passes, a cancelled context is honoured
// (before and during the call), a panic passes through as Do specifies,
// waits run on the policy's clock, allocations, and goroutine leaks. Call
// it from the policy package's own test, not in parallel with other tests.
// [TestGate] runs these checks for gates and more.
func TestPolicy(t *testing.T, c Policy) { RunPolicy(std{t}, c) }

// RunPolicy is [TestPolicy] for any [T].
func RunPolicy(t T, c Policy) {
	t.Helper()
	if c.New == nil {
		t.Fatalf("conformance.Policy.New is nil")
	}
	guard := guardOf(c.Guard)
	step := c.Step
	if step <= 0 {
		step = time.Minute
	}
	baseline := goroutines()
	t.Run("passes", func(t T) { policyPasses(t, c, guard) })
	t.Run("cancellation", func(t T) { policyCancel(t, c, guard) })
	t.Run("panics", func(t T) { policyPanics(t, c, step, guard) })
	t.Run("clock", func(t T) { policyClock(t, c, step, guard) })
	if c.ZeroAllocs {
		t.Run("allocations", func(t T) { policyAllocs(t, c, guard) })
	}
	checkLeaks(t, baseline, guard)
}

func newPipeline(t T, c Policy, cfg levee.Config) (*levee.Pipeline, *clocktest.Fake) {
	t.Helper()
	clk := clocktest.New(time.Time{})
	p := c.New(clk)
	if p == nil {
		t.Fatalf("New returned a nil policy")
	}
	cfg.Clock = clk
	pl, err := levee.NewPipeline(cfg, p)
	if err != nil {
		t.Fatalf("NewPipeline: %v", err)
	}
	return pl, clk
}

func policyPasses(t T, c Policy, guard time.Duration) {
	p, _ := newPipeline(t, c, levee.Config{})
	var v int
	var err error
	if !within(guard, func() { v, err = levee.Do(context.Background(), p, succeed) }) {
		t.Fatalf("Do with a successful call did not return within %v", guard)
	}
	if v != 7 || err != nil {
		t.Errorf("Do(succeed) = %d, %v, want 7, nil", v, err)
	}
}

func policyCancel(t T, c Policy, guard time.Duration) {
	t.Run("cancelled before", func(t T) {
		p, _ := newPipeline(t, c, levee.Config{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var calls atomic.Int32
		var err error
		if !within(guard, func() {
			_, err = levee.Do(ctx, p, func(ctx context.Context) (int, error) {
				calls.Add(1)
				return 0, ctx.Err()
			})
		}) {
			t.Fatalf("Do with a cancelled context did not return within %v", guard)
		}
		if !errors.Is(err, context.Canceled) && !errors.Is(err, levee.ErrRejected) {
			t.Errorf("Do with a cancelled context = %v, want context.Canceled or a rejection", err)
		}
		if n := calls.Load(); n > 1 {
			t.Errorf("Do with a cancelled context made %d calls, want at most 1", n)
		}
	})
	t.Run("cancelled during", func(t T) {
		p, _ := newPipeline(t, c, levee.Config{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var calls atomic.Int32
		started := make(chan struct{}, 1)
		done := make(chan error, 1)
		go func() {
			_, err := levee.Do(ctx, p, func(ctx context.Context) (int, error) {
				if calls.Add(1) == 1 {
					started <- struct{}{}
				}
				<-ctx.Done()
				return 0, ctx.Err()
			})
			done <- err
		}()
		select {
		case <-started:
		case err := <-done:
			t.Fatalf("Do returned %v without making the call", err)
		case <-time.After(guard):
			t.Fatalf("the call did not start within %v", guard)
		}
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Do cancelled during the call = %v, want context.Canceled", err)
			}
		case <-time.After(guard):
			t.Fatalf("Do did not return within %v of its context being cancelled", guard)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("Do cancelled during the call made %d calls, want 1", n)
		}
	})
}

func policyPanics(t T, c Policy, step, guard time.Duration) {
	t.Run("re-raised", func(t T) {
		p, clk := newPipeline(t, c, levee.Config{})
		var calls atomic.Int32
		var v any
		var panicked bool
		done := make(chan struct{})
		go func() {
			defer close(done)
			v, panicked = catch(func() {
				_, _ = levee.Do(context.Background(), p, func(context.Context) (int, error) {
					calls.Add(1)
					panic("conformance: boom")
				})
			})
		}()
		if !drive(clk, done, step, guard) {
			t.Fatalf("Do with a panicking call did not return within %v", guard)
		}
		if !panicked || v != "conformance: boom" {
			t.Errorf("Do with a panicking call: recovered %v (panicked %v), want the call's own panic value", v, panicked)
		}
		switch n := calls.Load(); {
		case c.Hedges <= 0 && n != 1:
			t.Errorf("Do with a panicking call made %d calls, want 1: a panic to re-raise is not retried", n)
		case n < 1 || n > int32(1+c.Hedges):
			t.Errorf("Do with a panicking call made %d calls, want 1 to %d (1 + Hedges): a panic to re-raise is not retried", n, 1+c.Hedges)
		}
	})
	t.Run("returned", func(t T) {
		p, clk := newPipeline(t, c, levee.Config{ReturnPanics: true})
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, err = levee.Do(context.Background(), p, func(context.Context) (int, error) { panic(errPanic) })
		}()
		if !drive(clk, done, step, guard) {
			t.Fatalf("Do with a panicking call did not return within %v", guard)
		}
		// A fallback may replace the error; anything else must show the
		// panic.
		var pe *levee.PanicError
		if err != nil && (!errors.As(err, &pe) || pe.Value != errPanic) && !errors.Is(err, levee.ErrRejected) {
			t.Errorf("Do with ReturnPanics = %v, want a *levee.PanicError of the panic value", err)
		}
	})
}

func policyClock(t T, c Policy, step, guard time.Duration) {
	p, clk := newPipeline(t, c, levee.Config{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = levee.Do(context.Background(), p, func(context.Context) (int, error) { return 0, errCall })
	}()
	if !drive(clk, done, step, guard) {
		t.Fatalf("Do with a failing call did not return within %v while the clock moved in steps of %v: does the policy wait on the real clock?", guard, step)
	}
}

func policyAllocs(t T, c Policy, guard time.Duration) {
	p, _ := newPipeline(t, c, levee.Config{})
	ctx := context.Background()
	var failed error
	var got float64
	if !within(guard, func() {
		got = testing.AllocsPerRun(200, func() {
			if _, err := levee.Do(ctx, p, succeed); err != nil {
				failed = err
			}
		})
	}) {
		t.Fatalf("200 calls through levee.Do did not return within %v", guard)
	}
	if failed != nil {
		t.Fatalf("Do(succeed) = %v, want nil", failed)
	}
	if got != 0 {
		t.Errorf("allocations: levee.Do(succeed) = %v allocs, want 0", got)
	}
}
