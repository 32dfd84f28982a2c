package retry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/retry"
)

func Example() {
	r, err := retry.New(retry.Config{
		MaxAttempts: 4,
		Jitter:      retry.JitterNone,
		BaseDelay:   time.Millisecond,
	})
	if err != nil {
		panic(err)
	}
	r.OnEvent(func(e levee.Event) {
		if e.Kind == levee.EventRetry {
			fmt.Printf("attempt %d failed (%v); retrying in %v (%s)\n", e.Attempt, e.Err, e.Wait, e.Reason)
		}
	})
	p := levee.New(r)

	calls := 0
	v, err := levee.Do(context.Background(), p, func(context.Context) (string, error) {
		calls++
		if calls < 3 {
			return "", errors.New("connection reset")
		}
		return "hello", nil
	})
	fmt.Println(v, err)
	// Output:
	// attempt 1 failed (connection reset); retrying in 1ms (backoff)
	// attempt 2 failed (connection reset); retrying in 2ms (backoff)
	// hello <nil>
}

func ExampleTokenBudget() {
	// One budget per dependency, shared by every caller of it.
	budget, _ := retry.NewTokenBudget(retry.TokenBudgetConfig{MaxTokens: 4, TokenRatio: 1})
	r, _ := retry.New(retry.Config{MaxAttempts: 10, Budget: budget, Rand: func() float64 { return 0 }})
	p := levee.New(r)

	calls := 0
	_, err := levee.Do(context.Background(), p, func(context.Context) (int, error) {
		calls++
		return 0, errors.New("unavailable")
	})
	fmt.Println(calls, "calls;", err)
	fmt.Println("budget exhausted:", errors.Is(err, levee.ErrBudgetExhausted))
	// Output:
	// 2 calls; retry: budget exhausted: unavailable
	// budget exhausted: true
}

func ExampleNoRetry() {
	r, _ := retry.New(retry.Config{})
	calls := 0
	_, err := retry.Do(context.Background(), r, func(context.Context) (int, error) {
		calls++
		return 0, retry.NoRetry(errors.New("invalid request"))
	})
	fmt.Println(calls, err)
	// Output:
	// 1 invalid request
}

func ExampleRatioBudget() {
	// Retries may add at most 10% to the calls of the last 10 seconds,
	// plus one retry per second however quiet the traffic.
	budget, _ := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 0.1, MinPerSecond: 1})
	for range 100 {
		budget.Request()
	}
	allowed := 0
	for range 50 {
		if budget.TryRetry() {
			allowed++
		}
	}
	fmt.Println(allowed, "of 50 retries allowed")
	// Output:
	// 20 of 50 retries allowed
}
