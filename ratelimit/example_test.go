package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/ratelimit"
)

// A GCRA of 100 calls a minute admits its burst of 100, then one call every
// 600ms; every decision says what HTTP headers need.
func ExampleGCRA() {
	clk := clocktest.New(time.Time{})
	g, err := ratelimit.NewGCRA(ratelimit.Config{Rate: ratelimit.PerMinute(100), Clock: clk})
	if err != nil {
		panic(err)
	}
	for range 99 {
		g.Allow()
	}
	fmt.Printf("%+v\n", g.Decide())
	fmt.Printf("%+v\n", g.Decide())
	clk.Advance(600 * time.Millisecond)
	fmt.Println(g.Allow())
	// Output:
	// {Allowed:true Limit:100 Remaining:0 RetryAfter:0s Reset:1m0s Rate:100 Window:1m0s}
	// {Allowed:false Limit:100 Remaining:0 RetryAfter:600ms Reset:1m0s Rate:100 Window:1m0s}
	// true
}

// The …At forms take the time as a Nanotime reading, so table tests need no
// clock at all.
func ExampleGCRA_DecideNAt() {
	g, _ := ratelimit.NewGCRA(ratelimit.Config{Rate: ratelimit.PerSecond(10), Burst: 2})
	fmt.Println(g.DecideNAt(0, 2).Allowed)
	d := g.DecideNAt(int64(50*time.Millisecond), 1)
	fmt.Println(d.Allowed, d.RetryAfter)
	// Output:
	// true
	// false 50ms
}

// A limiter is a gate: in a pipeline its rejection matches levee.ErrLimited
// and carries the wait.
func ExampleGCRA_Acquire() {
	clk := clocktest.New(time.Time{})
	g, _ := ratelimit.NewGCRA(ratelimit.Config{Rate: ratelimit.PerSecond(2), Burst: 1, Clock: clk})
	p := levee.New(g)
	call := func(context.Context) (string, error) { return "done", nil }
	for range 2 {
		v, err := levee.Do(context.Background(), p, call)
		wait, _ := levee.RetryAfter(err)
		fmt.Println(v, errors.Is(err, levee.ErrLimited), wait)
	}
	// Output:
	// done false 0s
	//  true 500ms
}

// Wait paces work to the rate, on the limiter's clock.
func ExampleTokenBucket_Wait() {
	clk := clocktest.New(time.Time{})
	b, _ := ratelimit.NewTokenBucket(ratelimit.Config{Rate: ratelimit.PerSecond(4), Burst: 1, Clock: clk})
	done := make(chan error)
	go func() {
		for range 3 {
			if err := b.Wait(context.Background()); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range 2 {
		clk.BlockUntil(1)
		clk.Advance(250 * time.Millisecond)
	}
	fmt.Println(<-done, time.Duration(clk.Nanotime()))
	// Output:
	// <nil> 500ms
}

// Reserve says how long to wait without waiting.
func ExampleTokenBucket_Reserve() {
	b, _ := ratelimit.NewTokenBucket(ratelimit.Config{Rate: ratelimit.PerSecond(10), Burst: 1})
	for range 3 {
		r := b.ReserveAt(0)
		fmt.Println(r.DelayFrom(0))
	}
	// Output:
	// 0s
	// 100ms
	// 200ms
}

// A sliding window counts calls in the last window, weighting the previous
// window by how much of it is still in view.
func ExampleSlidingWindow() {
	w, _ := ratelimit.NewSlidingWindow(ratelimit.WindowConfig{Rate: ratelimit.PerSecond(10)})
	w.DecideNAt(int64(900*time.Millisecond), 10)
	// 1.5s: half of the previous window's 10 still count.
	d := w.DecideNAt(int64(1500*time.Millisecond), 5)
	fmt.Printf("%v %d\n", d.Allowed, d.Remaining)
	d = w.DecideNAt(int64(1500*time.Millisecond), 1)
	fmt.Printf("%v %v\n", d.Allowed, d.RetryAfter)
	// Output:
	// true 0
	// false 100ms
}

// A keyed limiter gives every tenant its own bucket, with overrides for
// the ones that need more.
func ExampleKeyed() {
	k, _ := ratelimit.NewKeyed(ratelimit.KeyedConfig{
		Rate:      ratelimit.PerMinute(2),
		Overrides: map[string]ratelimit.Override{"partner": {Rate: ratelimit.PerMinute(1000)}},
	})
	for _, tenant := range []string{"acme", "acme", "acme", "globex", "partner", "partner", "partner"} {
		fmt.Print(k.DecideKeyAt(tenant, 0).Allowed, " ")
	}
	fmt.Println(k.Len())
	// Output:
	// true true false true true true true 2
}

// Warm-up: a cold limiter admits at a third of its rate and reaches the full
// rate after the warm-up period.
func ExampleConfig_warmUp() {
	g, _ := ratelimit.NewGCRA(ratelimit.Config{Rate: ratelimit.PerSecond(10), Burst: 1, WarmUp: 10 * time.Second})
	count := func(from, to time.Duration) int {
		n := 0
		for t := from; t < to; t += time.Millisecond {
			if g.AllowAt(int64(t)) {
				n++
			}
		}
		return n
	}
	fmt.Println("first second:", count(0, time.Second))
	count(time.Second, 10*time.Second) // busy: warming up
	fmt.Println("after warm-up:", count(10*time.Second, 11*time.Second))
	// Output:
	// first second: 4
	// after warm-up: 10
}

// A Keyed limiter is a levee.KeyedLimiter: DecideKey takes the request's
// context (a local decision never waits, so its error is always nil) and
// reports the configured rate beside the burst.
func ExampleKeyed_DecideKey() {
	k, _ := ratelimit.NewKeyed(ratelimit.KeyedConfig{
		Rate:  ratelimit.PerSecond(100),
		Burst: 10,
		Clock: clocktest.New(time.Time{}),
	})
	var lim levee.KeyedLimiter = k
	d, err := lim.DecideKey(context.Background(), "tenant-1")
	fmt.Println(d.Allowed, err)
	fmt.Printf("burst %d, rate %d per %v, %d left\n", d.Limit, d.Rate, d.Window, d.Remaining)
	// Output:
	// true <nil>
	// burst 10, rate 100 per 1s, 9 left
}

// CoarseClock trades a millisecond of clock accuracy for a cheaper Allow;
// the burst must cover at least a millisecond of the rate.
func ExampleConfig_coarseClock() {
	_, err := ratelimit.NewGCRA(ratelimit.Config{Rate: ratelimit.PerSecond(100_000), Burst: 10, CoarseClock: true})
	fmt.Println(err)
	g, err := ratelimit.NewGCRA(ratelimit.Config{Rate: ratelimit.PerSecond(100_000), Burst: 100, CoarseClock: true})
	fmt.Println(err, g.Allow())
	// Output:
	// ratelimit: Burst = 10 at Rate 100000/1s spans 100µs, want at least the coarse clock's 1ms (Burst >= Rate × 1ms)
	// <nil> true
}

// Reconfigure applies a new Config at once; the tokens the bucket holds
// are kept (capped at the new burst), so raising a limit does not hand out
// a fresh burst and lowering it takes effect now.
func ExampleGCRA_Reconfigure() {
	clk := clocktest.New(time.Time{})
	g, _ := ratelimit.NewGCRA(ratelimit.Config{Rate: ratelimit.PerSecond(10), Clock: clk})
	g.AllowN(7)
	fmt.Println(g.Decide().Remaining)
	if err := g.Reconfigure(ratelimit.Config{Rate: ratelimit.PerSecond(100), Burst: 100}); err != nil {
		panic(err)
	}
	fmt.Println(g.DecideN(0).Remaining, g.Burst())
	fmt.Println(g.Reconfigure(ratelimit.Config{Rate: ratelimit.PerSecond(100), Burst: -1}))
	// Output:
	// 2
	// 2 100
	// ratelimit: Burst = -1, want >= 0
}
