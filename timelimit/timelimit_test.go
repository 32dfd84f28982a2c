package timelimit_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/timelimit"
)

func mustNew(t testing.TB, cfg timelimit.Config) *timelimit.Timelimit {
	t.Helper()
	tl, err := timelimit.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	return tl
}

// slow waits for d on clk or for ctx to end, whichever comes first.
func slow(clk clock.Clock, d time.Duration) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		t := clk.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C():
			return 1, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// drive runs levee.Do(ctx, p, fn) in a goroutine of the synctest bubble
// and moves clk on in steps of 10ms, each once every goroutine of the
// bubble is blocked, until Do returns. It returns Do's error and how long
// it took on clk. Nothing sleeps: the bubble's clock never moves.
func drive(clk *clocktest.Fake, ctx context.Context, p *levee.Pipeline, fn func(context.Context) (int, error)) (time.Duration, error) {
	start := clk.Now()
	done := make(chan error, 1)
	go func() {
		_, err := levee.Do(ctx, p, fn)
		done <- err
	}()
	for {
		synctest.Wait()
		select {
		case err := <-done:
			return clk.Now().Sub(start), err
		default:
			clk.Advance(10 * time.Millisecond)
		}
	}
}

// fakeDeadline is a caller's context with a deadline on a fake clock.
type fakeDeadline struct {
	context.Context
	d time.Time
}

func (c fakeDeadline) Deadline() (time.Time, bool) { return c.d, true }

func (c fakeDeadline) Err() error {
	if c.Context.Err() != nil && context.Cause(c.Context) == context.DeadlineExceeded {
		return context.DeadlineExceeded
	}
	return c.Context.Err()
}

func withFakeDeadline(clk clock.Clock, parent context.Context, d time.Duration) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	t := clk.AfterFunc(d, func() { cancel(context.DeadlineExceeded) })
	return fakeDeadline{ctx, clk.Now().Add(d)}, func() { t.Stop(); cancel(context.Canceled) }
}

func TestTimelimit(t *testing.T) {
	tests := []struct {
		name        string
		limit       time.Duration
		callerLimit time.Duration // 0: none
		cancelAfter time.Duration // 0: never
		work        time.Duration
		wantErr     error
		wantTimeout bool
		wantElapsed time.Duration
	}{
		{"fast call", time.Second, 0, 0, 100 * time.Millisecond, nil, false, 100 * time.Millisecond},
		{"slow call", time.Second, 0, 0, time.Hour, context.DeadlineExceeded, true, time.Second},
		{"caller deadline first", time.Second, 300 * time.Millisecond, 0, time.Hour, context.DeadlineExceeded, false, 300 * time.Millisecond},
		{"caller cancels", time.Second, 0, 200 * time.Millisecond, time.Hour, context.Canceled, false, 200 * time.Millisecond},
		{"limit before caller deadline", time.Second, 2 * time.Second, 0, time.Hour, context.DeadlineExceeded, true, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := clocktest.New(time.Time{})
				tl := mustNew(t, timelimit.Config{Timeout: tt.limit, Clock: clk})
				ctx := context.Background()
				if tt.callerLimit > 0 {
					var cancel func()
					ctx, cancel = withFakeDeadline(clk, ctx, tt.callerLimit)
					defer cancel()
				}
				if tt.cancelAfter > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(ctx)
					defer cancel()
					clk.AfterFunc(tt.cancelAfter, cancel)
				}
				elapsed, err := drive(clk, ctx, levee.New(tl), slow(clk, tt.work))
				if elapsed != tt.wantElapsed {
					t.Errorf("Do took %v, want %v", elapsed, tt.wantElapsed)
				}
				if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
					t.Errorf("Do = %v, want %v", err, tt.wantErr)
				}
				if got := errors.Is(err, levee.ErrTimeout); got != tt.wantTimeout {
					t.Errorf("errors.Is(%v, ErrTimeout) = %v, want %v", err, got, tt.wantTimeout)
				}
				var te *timelimit.TimeoutError
				if got := errors.As(err, &te); got != tt.wantTimeout {
					t.Errorf("errors.As(%v, *TimeoutError) = %v, want %v", err, got, tt.wantTimeout)
				}
				if errors.Is(err, levee.ErrRejected) {
					t.Errorf("errors.Is(%v, ErrRejected) = true, want false", err)
				}
			})
		})
	}
}

// TestDeadlineOnClock checks that the call's context reports the limit's
// deadline on the policy's clock.
func TestDeadlineOnClock(t *testing.T) {
	clk := clocktest.New(time.Time{})
	tl := mustNew(t, timelimit.Config{Timeout: time.Second, Clock: clk})
	_, err := levee.Do(context.Background(), levee.New(tl), func(ctx context.Context) (int, error) {
		if dl, ok := ctx.Deadline(); !ok || !dl.Equal(clocktest.Epoch.Add(time.Second)) {
			t.Errorf("ctx.Deadline() = %v, %v; want %v, true", dl, ok, clocktest.Epoch.Add(time.Second))
		}
		return 0, nil
	})
	if err != nil {
		t.Errorf("Do = %v", err)
	}
	if n := clk.Pending(); n != 0 {
		t.Errorf("timers pending after Do = %d, want 0 (the limit's timer stopped)", n)
	}
}

// constRetry is a minimal levee.Retrier for these tests (policy packages
// do not import each other): up to max attempts, a fixed delay on clk, and
// no retry whose delay reaches the context's deadline unless pastDeadline
// is set.
type constRetry struct {
	clk          clock.Clock
	max          int
	delay        time.Duration
	pastDeadline bool
}

func (r *constRetry) Stage() levee.Stage { return levee.StageRetry }

func (r *constRetry) Attempted(ctx context.Context, a levee.Attempt) levee.RetryDecision {
	if a.Err == nil || a.N >= r.max || ctx.Err() != nil {
		return levee.RetryDecision{}
	}
	if dl, ok := ctx.Deadline(); ok && !r.pastDeadline && !r.clk.Now().Add(r.delay).Before(dl) {
		return levee.RetryDecision{}
	}
	return levee.RetryDecision{Retry: true, Delay: r.delay}
}

func (r *constRetry) Wait(ctx context.Context, d time.Duration) error {
	t := r.clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestPerAttemptAndTotalWithRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Time{})
		attempt := mustNew(t, timelimit.Config{Name: "attempt", Timeout: time.Second, Clock: clk})
		total := mustNew(t, timelimit.Config{Name: "total", Timeout: 3250 * time.Millisecond, Total: true, Clock: clk})
		r := &constRetry{clk: clk, max: 10, delay: 100 * time.Millisecond}
		p := levee.New(attempt, r, total) // sorted: total, retry, attempt
		if got := p.Policies(); got[0] != levee.Policy(total) || got[2] != levee.Policy(attempt) {
			t.Fatalf("Policies() = %v, want total first and attempt last", got)
		}
		var events []string
		attempt.OnEvent(func(e levee.Event) { events = append(events, e.Name) })
		total.OnEvent(func(e levee.Event) { events = append(events, e.Name) })
		calls := 0
		elapsed, err := drive(clk, context.Background(), p, func(ctx context.Context) (int, error) {
			calls++
			return slow(clk, time.Hour)(ctx)
		})
		// Attempts end at 1s, 2.1s, 3.2s; the retry after the third would
		// start at 3.3s, past the total deadline (3.25s), so the call ends
		// at 3.2s with the last attempt's timeout.
		if calls != 3 {
			t.Errorf("calls = %d, want 3", calls)
		}
		if elapsed != 3200*time.Millisecond {
			t.Errorf("Do took %v, want 3.2s", elapsed)
		}
		var te *timelimit.TimeoutError
		if !errors.As(err, &te) || te.Name != "attempt" {
			t.Errorf("Do = %v, want the attempt limit's TimeoutError", err)
		}
		if len(events) != 3 {
			t.Errorf("timeout events = %v, want 3 from attempt", events)
		}
	})
}

func TestTotalLimitEndsBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Time{})
		total := mustNew(t, timelimit.Config{Timeout: time.Second, Total: true, Clock: clk})
		r := &constRetry{clk: clk, max: 10, delay: 800 * time.Millisecond, pastDeadline: true}
		elapsed, err := drive(clk, context.Background(), levee.New(r, total), func(ctx context.Context) (int, error) {
			if _, err := slow(clk, 400*time.Millisecond)(ctx); err != nil {
				return 0, err
			}
			return 0, errors.New("unavailable")
		})
		if elapsed != time.Second {
			t.Errorf("Do took %v, want 1s", elapsed)
		}
		if !errors.Is(err, levee.ErrTimeout) {
			t.Errorf("Do = %v, want ErrTimeout", err)
		}
	})
}

func TestRemaining(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(1500*time.Millisecond))
	defer cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		at     time.Time
		want   time.Duration
		wantOK bool
	}{
		{"no deadline", context.Background(), now, 0, false},
		{"before", ctx, now, 1500 * time.Millisecond, true},
		{"at", ctx, now.Add(1500 * time.Millisecond), 0, true},
		{"after", ctx, now.Add(time.Hour), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := timelimit.RemainingAt(tt.ctx, tt.at)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("RemainingAt(ctx, %v) = %v, %v; want %v, %v", tt.at, got, ok, tt.want, tt.wantOK)
			}
		})
	}
	// Remaining reads the real time: a deadline an hour away has at most
	// an hour, and most of it, left.
	hour, cancelHour := context.WithTimeout(context.Background(), time.Hour)
	defer cancelHour()
	if got, ok := timelimit.Remaining(hour); !ok || got > time.Hour || got < 59*time.Minute {
		t.Errorf("Remaining(1h context) = %v, %v; want about 1h, true", got, ok)
	}
}

func TestNewRefusesNegative(t *testing.T) {
	if tl, err := timelimit.New(timelimit.Config{Timeout: -1}); err == nil {
		t.Errorf("New(Timeout: -1) = %v, nil; want an error", tl)
	}
	tl := mustNew(t, timelimit.Config{})
	if tl.Timeout() != time.Second || tl.Stage() != levee.StageTimeout {
		t.Errorf("New(zero) = timeout %v stage %v, want 1s, StageTimeout", tl.Timeout(), tl.Stage())
	}
	if got := mustNew(t, timelimit.Config{Total: true}).Stage(); got != timelimit.StageTotal || got >= levee.StageRetry || got <= levee.StageFallback {
		t.Errorf("Stage() of a total limit = %v, want StageTotal between fallback and retry", got)
	}
}

// TestNoLeakedGoroutines ends calls by their limit and checks that nothing
// they started is left: synctest.Test fails when a goroutine of its bubble
// outlives the test.
func TestNoLeakedGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Time{})
		p := levee.New(mustNew(t, timelimit.Config{Timeout: time.Millisecond, Clock: clk}))
		for range 20 {
			if _, err := drive(clk, context.Background(), p, slow(clk, time.Hour)); !errors.Is(err, levee.ErrTimeout) {
				t.Fatalf("Do = %v, want ErrTimeout", err)
			}
		}
		if n := clk.Pending(); n != 0 {
			t.Errorf("timers pending = %d, want 0", n)
		}
	})
}

func TestAllocs(t *testing.T) {
	tl := mustNew(t, timelimit.Config{Timeout: time.Hour})
	p := levee.New(tl)
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	bare := testing.AllocsPerRun(1000, func() {
		c, cancel := context.WithTimeout(ctx, time.Hour)
		_, _ = fn(c)
		cancel()
	})
	got := testing.AllocsPerRun(1000, func() { _, _ = levee.Do(ctx, p, fn) })
	if got > bare {
		t.Errorf("levee.Do(timelimit) allocs = %v, want <= %v (context.WithTimeout alone)", got, bare)
	}
}

func BenchmarkTimelimit(b *testing.B) {
	p := levee.New(mustNew(b, timelimit.Config{Timeout: time.Hour}))
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		_, _ = levee.Do(ctx, p, fn)
	}
}

func BenchmarkContextWithTimeout(b *testing.B) {
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		c, cancel := context.WithTimeout(ctx, time.Hour)
		_, _ = fn(c)
		cancel()
	}
}

func BenchmarkTimelimitParallel(b *testing.B) {
	p := levee.New(mustNew(b, timelimit.Config{Timeout: time.Hour}))
	fn := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			_, _ = levee.Do(ctx, p, fn)
		}
	})
}

func TestCallerDeadlineFirstCostsNothing(t *testing.T) {
	tl := mustNew(t, timelimit.Config{Timeout: time.Hour})
	p := levee.New(tl)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fn := func(c context.Context) (int, error) {
		if dl, _ := c.Deadline(); dl != func() time.Time { d, _ := ctx.Deadline(); return d }() {
			t.Errorf("call's deadline = %v, want the caller's", dl)
		}
		return 1, nil
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = levee.Do(ctx, p, fn) }); n != 0 {
		t.Errorf("levee.Do(timelimit 1h) under a 1m caller deadline allocs = %v, want 0", n)
	}
}
