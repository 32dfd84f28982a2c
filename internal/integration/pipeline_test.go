package integration

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/fallback"
	"github.com/levee-go/levee/hedge"
	"github.com/levee-go/levee/retry"
	"github.com/levee-go/levee/timelimit"
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestFullPipeline runs fallback → retry (with a budget) → hedge → breaker →
// time limit around a dependency that fails, is slow, then recovers, and
// checks what each layer did.
func TestFullPipeline(t *testing.T) {
	budget := must(retry.NewTokenBudget(retry.TokenBudgetConfig{MaxTokens: 10, TokenRatio: 0.5}))
	r := must(retry.New(retry.Config{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond, Budget: budget}))
	h := must(hedge.New(hedge.Config{Delay: 20 * time.Millisecond, Budget: budget}))
	b := must(breaker.New(breaker.Config{ConsecutiveFailures: 5, FailureRate: -1, OpenWait: time.Hour}))
	tl := must(timelimit.New(timelimit.Config{Timeout: 100 * time.Millisecond}))
	cache := must(fallback.NewCache[string](fallback.CacheConfig{TTL: -1}))
	fb := must(fallback.New(fallback.Config{}, fallback.Stale(cache), fallback.Value("default")))
	p := levee.New(tl, b, h, fb, r) // order comes from the stages

	var mode atomic.Int32 // 0 ok, 1 fail, 2 slow
	var calls atomic.Int32
	call := func(ctx context.Context) (string, error) {
		calls.Add(1)
		switch mode.Load() {
		case 1:
			return "", errors.New("dependency down")
		case 2:
			select {
			case <-time.After(time.Second):
				return "late", nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		return "fresh", nil
	}
	ctx := context.Background()

	if v, err := levee.Do(ctx, p, call); v != "fresh" || err != nil {
		t.Fatalf("healthy: %q, %v", v, err)
	}

	// Failing: retries run (3 attempts each), then the breaker opens after 5
	// consecutive failures and the fallback serves the stale value.
	mode.Store(1)
	calls.Store(0)
	for range 3 {
		if v, err := levee.Do(ctx, p, call); v != "fresh" || err != nil {
			t.Errorf("failing: %q, %v; want the stale value", v, err)
		}
	}
	if b.State() != breaker.Open {
		t.Errorf("breaker state = %v after repeated failures, want open", b.State())
	}
	if n := calls.Load(); n != 5 {
		t.Errorf("dependency called %d times while failing, want 5 (the breaker stops the rest)", n)
	}

	// Slow: the per-attempt limit fires and the hedge runs; the breaker is
	// reset so calls get through.
	b.Reset()
	mode.Store(2)
	start := time.Now()
	v, err := levee.Do(ctx, p, call)
	if v != "fresh" || err != nil {
		t.Errorf("slow: %q, %v; want the stale value after timeouts", v, err)
	}
	if el := time.Since(start); el > 900*time.Millisecond {
		t.Errorf("slow call took %v; the time limit should cut it near 100ms per attempt", el)
	}
	if b.Snapshot().Failures == 0 {
		t.Error("breaker saw no failure from the timed-out attempts")
	}
}

// TestHedgeAndRetryShareOneBudget: once the shared token budget is spent by
// failures, neither retries nor hedges are made.
func TestHedgeAndRetryShareOneBudget(t *testing.T) {
	budget := must(retry.NewTokenBudget(retry.TokenBudgetConfig{MaxTokens: 4, TokenRatio: 0.1}))
	r := must(retry.New(retry.Config{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, Budget: budget}))
	h := must(hedge.New(hedge.Config{Delay: time.Millisecond, MaxHedges: 3, Budget: budget}))
	p := levee.New(r, h)
	var calls atomic.Int32
	fail := func(ctx context.Context) (int, error) {
		calls.Add(1)
		time.Sleep(5 * time.Millisecond)
		return 0, errors.New("down")
	}
	var last error
	for range 10 {
		_, last = levee.Do(context.Background(), p, fail)
	}
	if !errors.Is(last, levee.ErrBudgetExhausted) {
		t.Errorf("after sustained failures err = %v, want ErrBudgetExhausted", last)
	}
	before := calls.Load()
	_, _ = levee.Do(context.Background(), p, fail)
	if got := calls.Load() - before; got != 1 {
		t.Errorf("with the budget spent a call made %d attempts, want 1 (no retry, no hedge)", got)
	}
}

// TestNoGoroutineLeak runs many timed-out and hedged calls and checks the
// goroutine count returns to where it started.
func TestNoGoroutineLeak(t *testing.T) {
	h := must(hedge.New(hedge.Config{Delay: time.Millisecond, MaxHedges: 2}))
	tl := must(timelimit.New(timelimit.Config{Timeout: 5 * time.Millisecond}))
	p := levee.New(h, tl)
	base := runtime.NumGoroutine()
	for range 50 {
		_, _ = levee.Do(context.Background(), p, func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Errorf("goroutines: %d after, %d before", n, base)
	}
}
