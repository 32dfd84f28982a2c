package timelimit_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/levee-go/levee"
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

// slow waits for d or for ctx to end, whichever comes first.
func slow(d time.Duration) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		select {
		case <-time.After(d):
			return 1, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
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
				tl := mustNew(t, timelimit.Config{Timeout: tt.limit})
				ctx := context.Background()
				if tt.callerLimit > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.callerLimit)
					defer cancel()
				}
				if tt.cancelAfter > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(ctx)
					defer cancel()
					time.AfterFunc(tt.cancelAfter, cancel)
				}
				start := time.Now()
				_, err := levee.Do(ctx, levee.New(tl), slow(tt.work))
				if elapsed := time.Since(start); elapsed != tt.wantElapsed {
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

// constRetry is a minimal levee.Retrier for these tests (policy packages
// do not import each other): up to max attempts, a fixed delay, and no retry
// whose delay reaches the context's deadline unless pastDeadline is set.
type constRetry struct {
	max          int
	delay        time.Duration
	pastDeadline bool
}

func (r *constRetry) Stage() levee.Stage { return levee.StageRetry }

func (r *constRetry) Attempted(ctx context.Context, a levee.Attempt) levee.RetryDecision {
	if a.Err == nil || a.N >= r.max || ctx.Err() != nil {
		return levee.RetryDecision{}
	}
	if dl, ok := ctx.Deadline(); ok && !r.pastDeadline && !time.Now().Add(r.delay).Before(dl) {
		return levee.RetryDecision{}
	}
	return levee.RetryDecision{Retry: true, Delay: r.delay}
}

func (r *constRetry) Wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestPerAttemptAndTotalWithRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		attempt := mustNew(t, timelimit.Config{Name: "attempt", Timeout: time.Second})
		total := mustNew(t, timelimit.Config{Name: "total", Timeout: 3250 * time.Millisecond, Total: true})
		r := &constRetry{max: 10, delay: 100 * time.Millisecond}
		p := levee.New(attempt, r, total) // sorted: total, retry, attempt
		if got := p.Policies(); got[0] != levee.Policy(total) || got[2] != levee.Policy(attempt) {
			t.Fatalf("Policies() = %v, want total first and attempt last", got)
		}
		var events []string
		attempt.OnEvent(func(e levee.Event) { events = append(events, e.Name) })
		total.OnEvent(func(e levee.Event) { events = append(events, e.Name) })
		calls := 0
		start := time.Now()
		_, err := levee.Do(context.Background(), p, func(ctx context.Context) (int, error) {
			calls++
			return slow(time.Hour)(ctx)
		})
		// Attempts end at 1s, 2.1s, 3.2s; the retry after the third would
		// start at 3.3s, past the total deadline (3.25s), so the call ends
		// at 3.2s with the last attempt's timeout.
		if calls != 3 {
			t.Errorf("calls = %d, want 3", calls)
		}
		if elapsed := time.Since(start); elapsed != 3200*time.Millisecond {
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
		total := mustNew(t, timelimit.Config{Timeout: time.Second, Total: true})
		r := &constRetry{max: 10, delay: 800 * time.Millisecond, pastDeadline: true}
		start := time.Now()
		_, err := levee.Do(context.Background(), levee.New(r, total), func(ctx context.Context) (int, error) {
			if _, err := slow(400 * time.Millisecond)(ctx); err != nil {
				return 0, err
			}
			return 0, errors.New("unavailable")
		})
		if elapsed := time.Since(start); elapsed != time.Second {
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
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		time.Sleep(300 * time.Millisecond)
		if got, ok := timelimit.Remaining(ctx); got != 700*time.Millisecond || !ok {
			t.Errorf("Remaining(ctx) = %v, %v; want 700ms, true", got, ok)
		}
	})
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

// TestNoLeakedGoroutines runs timeouts on real time and checks that every
// goroutine started for them ends.
func TestNoLeakedGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	tl := mustNew(t, timelimit.Config{Timeout: time.Millisecond})
	p := levee.New(tl)
	for range 20 {
		if _, err := levee.Do(context.Background(), p, slow(time.Hour)); !errors.Is(err, levee.ErrTimeout) {
			t.Fatalf("Do = %v, want ErrTimeout", err)
		}
	}
	waitGoroutines(t, before)
}

func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines = %d, want <= %d:\n%s", runtime.NumGoroutine(), want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
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
