package retry_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/retry"
)

var errBoom = errors.New("boom")

func fixed(v float64) func() float64 { return func() float64 { return v } }

func mustNew(t testing.TB, cfg retry.Config) *retry.Retry {
	t.Helper()
	r, err := retry.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	return r
}

func TestDelayFormulas(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name string
		cfg  retry.Config
		n    int
		prev time.Duration
		want time.Duration
	}{
		{"constant none", retry.Config{Backoff: retry.Constant, Jitter: retry.JitterNone, BaseDelay: 50 * ms}, 4, 0, 50 * ms},
		{"constant full", retry.Config{Backoff: retry.Constant, BaseDelay: 50 * ms, Rand: fixed(0.5)}, 4, 0, 25 * ms},
		{"exp none n1", retry.Config{Jitter: retry.JitterNone, BaseDelay: 100 * ms}, 1, 0, 100 * ms},
		{"exp none n2", retry.Config{Jitter: retry.JitterNone, BaseDelay: 100 * ms}, 2, 0, 200 * ms},
		{"exp none n4", retry.Config{Jitter: retry.JitterNone, BaseDelay: 100 * ms}, 4, 0, 800 * ms},
		{"exp none capped", retry.Config{Jitter: retry.JitterNone, BaseDelay: 100 * ms, MaxDelay: 500 * ms}, 4, 0, 500 * ms},
		{"exp none n1000 capped", retry.Config{Jitter: retry.JitterNone, BaseDelay: 100 * ms, MaxDelay: time.Second}, 1000, 0, time.Second},
		{"exp multiplier 3", retry.Config{Jitter: retry.JitterNone, BaseDelay: 10 * ms, Multiplier: 3}, 3, 0, 90 * ms},
		{"full n3 r0.25", retry.Config{BaseDelay: 100 * ms, Rand: fixed(0.25)}, 3, 0, 100 * ms},
		{"full capped r0.5", retry.Config{BaseDelay: 100 * ms, MaxDelay: 300 * ms, Rand: fixed(0.5)}, 5, 0, 150 * ms},
		{"full r0", retry.Config{BaseDelay: 100 * ms, Rand: fixed(0)}, 5, 0, 0},
		{"equal n3 r0", retry.Config{Jitter: retry.JitterEqual, BaseDelay: 100 * ms, Rand: fixed(0)}, 3, 0, 200 * ms},
		{"equal n3 r0.5", retry.Config{Jitter: retry.JitterEqual, BaseDelay: 100 * ms, Rand: fixed(0.5)}, 3, 0, 300 * ms},
		{"equal capped r0.5", retry.Config{Jitter: retry.JitterEqual, BaseDelay: 100 * ms, MaxDelay: 200 * ms, Rand: fixed(0.5)}, 9, 0, 150 * ms},
		{"decorrelated first r0", retry.Config{Jitter: retry.JitterDecorrelated, BaseDelay: 100 * ms, Rand: fixed(0)}, 1, 0, 100 * ms},
		{"decorrelated first r0.5", retry.Config{Jitter: retry.JitterDecorrelated, BaseDelay: 100 * ms, Rand: fixed(0.5)}, 1, 0, 200 * ms},
		{"decorrelated prev r0.5", retry.Config{Jitter: retry.JitterDecorrelated, BaseDelay: 100 * ms, Rand: fixed(0.5)}, 3, 400 * ms, 650 * ms},
		{"decorrelated capped", retry.Config{Jitter: retry.JitterDecorrelated, BaseDelay: 100 * ms, MaxDelay: time.Second, Rand: fixed(0.9)}, 3, 2 * time.Second, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNew(t, tt.cfg)
			if got := r.Delay(tt.n, tt.prev); got != tt.want {
				t.Errorf("Delay(%d, %v) = %v, want %v", tt.n, tt.prev, got, tt.want)
			}
		})
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  retry.Config
	}{
		{"negative attempts", retry.Config{MaxAttempts: -1}},
		{"negative base", retry.Config{BaseDelay: -time.Second}},
		{"cap below base", retry.Config{BaseDelay: time.Second, MaxDelay: time.Millisecond}},
		{"multiplier below 1", retry.Config{Multiplier: 0.5}},
		{"bad backoff", retry.Config{Backoff: 9}},
		{"bad jitter", retry.Config{Jitter: 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r, err := retry.New(tt.cfg); err == nil {
				t.Errorf("New(%+v) = %v, nil; want an error", tt.cfg, r)
			}
		})
	}
}

// pushback is an error carrying a server's retry delay, as adapters make.
type pushback struct{ d time.Duration }

func (p pushback) Error() string             { return fmt.Sprintf("pushback %v", p.d) }
func (p pushback) RetryAfter() time.Duration { return p.d }

func TestAttempted(t *testing.T) {
	const ms = time.Millisecond
	base := retry.Config{Jitter: retry.JitterNone, BaseDelay: 100 * ms, MaxAttempts: 3}
	with := func(f func(*retry.Config)) retry.Config { c := base; f(&c); return c }
	fail := func(err error) levee.Attempt {
		return levee.Attempt{N: 1, Err: err, Result: levee.DefaultClassifier(err)}
	}
	tests := []struct {
		name      string
		cfg       retry.Config
		a         levee.Attempt
		wantRetry bool
		wantDelay time.Duration
	}{
		{"success", base, levee.Attempt{N: 1}, false, 0},
		{"failure", base, fail(errBoom), true, 100 * ms},
		{"second failure", base, levee.Attempt{N: 2, Err: errBoom, Result: levee.Failure, Delay: 100 * ms}, true, 200 * ms},
		{"last attempt", base, levee.Attempt{N: 3, Err: errBoom, Result: levee.Failure}, false, 0},
		{"ignored", base, fail(levee.Ignore(errBoom)), false, 0},
		{"canceled", base, fail(context.Canceled), false, 0},
		{"rejection", base, fail(levee.ErrOpen), false, 0},
		{"rejection retried", with(func(c *retry.Config) { c.RetryRejections = true }), fail(levee.ErrLimited), true, 100 * ms},
		{"rejection retry-after", with(func(c *retry.Config) { c.RetryRejections = true }), fail(levee.Reject(levee.ErrOpen, 2*time.Second)), true, 2 * time.Second},
		{"predicate veto", with(func(c *retry.Config) { c.RetryIf = func(error) bool { return false } }), fail(errBoom), false, 0},
		{"predicate agrees", with(func(c *retry.Config) { c.RetryIf = func(err error) bool { return errors.Is(err, errBoom) } }), fail(errBoom), true, 100 * ms},
		{"no retry marker", base, fail(retry.NoRetry(errBoom)), false, 0},
		{"no retry wrapped", base, fail(fmt.Errorf("x: %w", retry.ErrNoRetry)), false, 0},
		{"negative pushback", base, fail(pushback{-1}), false, 0},
		{"longer pushback", base, fail(pushback{time.Second}), true, time.Second},
		{"shorter pushback", base, fail(pushback{time.Millisecond}), true, 100 * ms},
		{"pushback capped", with(func(c *retry.Config) { c.MaxRetryAfter = 500 * ms }), fail(pushback{time.Minute}), true, 500 * ms},
		{"pushback ignored", with(func(c *retry.Config) { c.MaxRetryAfter = -1 }), fail(pushback{time.Minute}), true, 100 * ms},
		{"pushback ignored still stops", with(func(c *retry.Config) { c.MaxRetryAfter = -1 }), fail(pushback{-1}), false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNew(t, tt.cfg)
			d := r.Attempted(context.Background(), tt.a)
			if d.Retry != tt.wantRetry || d.Delay != tt.wantDelay {
				t.Errorf("Attempted(%+v) = %+v, want Retry %v Delay %v", tt.a, d, tt.wantRetry, tt.wantDelay)
			}
		})
	}
}

func TestAttemptedDeadline(t *testing.T) {
	start := time.Now()
	clk := clocktest.New(start)
	cfg := retry.Config{Jitter: retry.JitterNone, BaseDelay: time.Second, Clock: clk}
	a := levee.Attempt{N: 1, Err: errBoom, Result: levee.Failure}
	tests := []struct {
		name      string
		deadline  time.Duration
		pastOK    bool
		wantRetry bool
	}{
		{"room left", 2 * time.Second, false, true},
		{"delay reaches deadline", time.Second, false, false},
		{"delay passes deadline", 500 * time.Millisecond, false, false},
		{"past deadline allowed", 500 * time.Millisecond, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			c.RetryPastDeadline = tt.pastOK
			r := mustNew(t, c)
			ctx, cancel := context.WithDeadline(context.Background(), start.Add(tt.deadline))
			defer cancel()
			var reason string
			r.OnEvent(func(e levee.Event) { reason = e.Reason })
			if d := r.Attempted(ctx, a); d.Retry != tt.wantRetry {
				t.Errorf("Attempted with deadline in %v = %+v, want Retry %v", tt.deadline, d, tt.wantRetry)
			}
			if !tt.wantRetry && reason != "deadline" {
				t.Errorf("event reason = %q, want deadline", reason)
			}
		})
	}
}

func TestPipelineRetriesUntilSuccess(t *testing.T) {
	clk := clocktest.New(time.Time{})
	r := mustNew(t, retry.Config{Jitter: retry.JitterNone, BaseDelay: 100 * time.Millisecond, MaxAttempts: 5, Clock: clk})
	var waits []time.Duration
	r.OnEvent(func(e levee.Event) {
		if e.Kind == levee.EventRetry {
			waits = append(waits, e.Wait)
		}
	})
	calls := 0
	done := make(chan struct{})
	var v int
	var err error
	go func() {
		defer close(done)
		v, err = levee.Do(context.Background(), levee.New(r), func(context.Context) (int, error) {
			calls++
			if calls < 3 {
				return 0, errBoom
			}
			return 42, nil
		})
	}()
	for _, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond} {
		clk.BlockUntil(1)
		clk.Advance(want)
	}
	<-done
	if v != 42 || err != nil || calls != 3 {
		t.Fatalf("Do = %d, %v after %d calls, want 42, nil after 3", v, err, calls)
	}
	if fmt.Sprint(waits) != "[100ms 200ms]" {
		t.Errorf("retry waits = %v, want [100ms 200ms]", waits)
	}
	if got := clk.Now().Sub(clocktest.Epoch); got != 300*time.Millisecond {
		t.Errorf("time spent = %v, want 300ms", got)
	}
}

func TestPipelineGivesUpWithLastError(t *testing.T) {
	// Full jitter drawing 0 makes every delay zero: no timer to drive.
	r := mustNew(t, retry.Config{MaxAttempts: 4, Rand: fixed(0)})
	calls := 0
	_, err := levee.Do(context.Background(), levee.New(r), func(context.Context) (int, error) {
		calls++
		return 0, fmt.Errorf("call %d: %w", calls, errBoom)
	})
	if calls != 4 || err == nil || err.Error() != "call 4: boom" {
		t.Errorf("Do = %v after %d calls, want call 4: boom after 4", err, calls)
	}
}

func TestCancelInterruptsBackoff(t *testing.T) {
	clk := clocktest.New(time.Time{})
	r := mustNew(t, retry.Config{Jitter: retry.JitterNone, BaseDelay: time.Hour, MaxDelay: time.Hour, Clock: clk})
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	done := make(chan error, 1)
	go func() {
		_, err := levee.Do(ctx, levee.New(r), func(context.Context) (int, error) {
			calls++
			return 0, errBoom
		})
		done <- err
	}()
	clk.BlockUntil(1) // in the one-hour backoff
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !errors.Is(err, errBoom) {
			t.Errorf("Do = %v, want context.Canceled joined with boom", err)
		}
		if calls != 1 {
			t.Errorf("calls = %d, want 1", calls)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Do still waiting after cancel; the backoff was not interrupted")
	}
	if n := clk.Pending(); n != 0 {
		t.Errorf("pending timers after cancel = %d, want 0 (timer stopped)", n)
	}
}

func TestCancelledContextStopsAtOnce(t *testing.T) {
	r := mustNew(t, retry.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err := levee.Do(ctx, levee.New(r), func(context.Context) (int, error) {
		calls++
		cancel()
		return 0, errBoom
	})
	if calls != 1 || !errors.Is(err, errBoom) {
		t.Errorf("Do = %v after %d calls, want boom after 1", err, calls)
	}
	if err := r.Wait(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait(cancelled, 1h) = %v, want context.Canceled", err)
	}
}

func TestBudgetStopsRetries(t *testing.T) {
	clk := clocktest.New(time.Time{})
	b, err := retry.NewTokenBudget(retry.TokenBudgetConfig{MaxTokens: 4, TokenRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := mustNew(t, retry.Config{MaxAttempts: 10, Budget: b, Rand: fixed(0), Clock: clk})
	var reasons []string
	r.OnEvent(func(e levee.Event) {
		if e.Kind == levee.EventInfo {
			reasons = append(reasons, e.Reason)
		}
	})
	calls := 0
	_, err = levee.Do(context.Background(), levee.New(r), func(context.Context) (int, error) {
		calls++
		return 0, errBoom
	})
	// Tokens 4 → 3 (retry: 3 > 2) → 2 (2 > 2 fails): two attempts.
	if calls != 2 {
		t.Errorf("calls = %d, want 2", calls)
	}
	if !errors.Is(err, levee.ErrBudgetExhausted) || !errors.Is(err, errBoom) {
		t.Errorf("Do = %v, want it to match ErrBudgetExhausted and boom", err)
	}
	var be *retry.BudgetError
	if !errors.As(err, &be) || be.Err() != errBoom {
		t.Errorf("errors.As(%v, *BudgetError) = %v, want Err() boom", err, be)
	}
	if fmt.Sprint(reasons) != "[budget-exhausted]" {
		t.Errorf("info reasons = %v, want [budget-exhausted]", reasons)
	}
}

func TestRetryDo(t *testing.T) {
	r := mustNew(t, retry.Config{Rand: fixed(0)})
	var calls atomic.Int32
	v, err := retry.Do(context.Background(), r, func(context.Context) (string, error) {
		if calls.Add(1) < 2 {
			return "", errBoom
		}
		return "ok", nil
	})
	if v != "ok" || err != nil || calls.Load() != 2 {
		t.Errorf("retry.Do = %q, %v after %d calls, want ok, nil after 2", v, err, calls.Load())
	}
}

func TestAllocs(t *testing.T) {
	r := mustNew(t, retry.Config{Rand: fixed(0), MaxAttempts: 3})
	p := levee.New(r)
	ctx := context.Background()
	ok := func(context.Context) (int, error) { return 1, nil }
	if n := testing.AllocsPerRun(1000, func() { _, _ = levee.Do(ctx, p, ok) }); n != 0 {
		t.Errorf("levee.Do(retry, success) allocs = %v, want 0", n)
	}
	// A zero delay (full jitter drawing 0) needs no timer, so the retried
	// path is measured without it.
	calls := 0
	flaky := func(context.Context) (int, error) {
		calls++
		if calls%2 == 1 {
			return 0, errBoom
		}
		return 1, nil
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = levee.Do(ctx, p, flaky) }); n != 0 {
		t.Errorf("levee.Do(retry, fail then success) allocs = %v, want 0", n)
	}
	rb, _ := retry.NewRatioBudget(retry.RatioBudgetConfig{})
	tb, _ := retry.NewTokenBudget(retry.TokenBudgetConfig{})
	for name, b := range map[string]retry.Budget{"ratio": rb, "token": tb} {
		p := levee.New(mustNew(t, retry.Config{Rand: fixed(0), Budget: b}))
		if n := testing.AllocsPerRun(1000, func() { _, _ = levee.Do(ctx, p, flaky) }); n != 0 {
			t.Errorf("levee.Do(retry with %s budget, fail then success) allocs = %v, want 0", name, n)
		}
	}
}

func BenchmarkRetrySuccess(b *testing.B) {
	r := mustNew(b, retry.Config{})
	p := levee.New(r)
	ctx := context.Background()
	ok := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		_, _ = levee.Do(ctx, p, ok)
	}
}

func BenchmarkRetrySuccessParallel(b *testing.B) {
	bud, _ := retry.NewRatioBudget(retry.RatioBudgetConfig{})
	r := mustNew(b, retry.Config{Budget: bud})
	p := levee.New(r)
	ok := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			_, _ = levee.Do(ctx, p, ok)
		}
	})
}

func BenchmarkRetryOnce(b *testing.B) {
	r := mustNew(b, retry.Config{Rand: fixed(0)})
	p := levee.New(r)
	ctx := context.Background()
	calls := 0
	flaky := func(context.Context) (int, error) {
		calls++
		if calls%2 == 1 {
			return 0, errBoom
		}
		return 1, nil
	}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = levee.Do(ctx, p, flaky)
	}
}

// rejectingGate refuses the first n calls with err, then admits.
type rejectingGate struct {
	n   int
	err error
}

func (g *rejectingGate) Stage() levee.Stage { return levee.StageBreaker }
func (g *rejectingGate) Acquire(context.Context) (levee.Permit, error) {
	if g.n > 0 {
		g.n--
		return levee.Permit{}, g.err
	}
	return levee.Permit{}, nil
}

func TestRejectionsThroughPipeline(t *testing.T) {
	for _, retryRejections := range []bool{false, true} {
		t.Run(fmt.Sprint("RetryRejections=", retryRejections), func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			r := mustNew(t, retry.Config{RetryRejections: retryRejections, Rand: fixed(0), Clock: clk})
			var events []string
			r.OnEvent(func(e levee.Event) { events = append(events, fmt.Sprintf("%s %v", e.Reason, e.Wait)) })
			g := &rejectingGate{n: 1, err: levee.Reject(levee.ErrOpen, 3*time.Second)}
			done := make(chan struct{})
			var v int
			var err error
			go func() {
				defer close(done)
				v, err = levee.Do(context.Background(), levee.New(g, r), func(context.Context) (int, error) { return 7, nil })
			}()
			if retryRejections {
				clk.BlockUntil(1)
				clk.Advance(3 * time.Second)
			}
			<-done
			if retryRejections {
				if v != 7 || err != nil || fmt.Sprint(events) != "[retry-after 3s]" {
					t.Errorf("Do = %d, %v, events %v; want 7, nil, [retry-after 3s]", v, err, events)
				}
			} else if !errors.Is(err, levee.ErrOpen) || len(events) != 0 {
				t.Errorf("Do = %d, %v, events %v; want ErrOpen and no event", v, err, events)
			}
		})
	}
}
