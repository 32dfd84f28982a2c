package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/clock/clocktest"
)

var errDown = errors.New("dependency down")

// The default count window: the breaker opens when half of the last calls
// failed, once MinCalls have been made, and rejects calls with the time
// left before it lets probes through.
func Example_countWindow() {
	clk := clocktest.New(time.Time{})
	b, _ := breaker.New(breaker.Config{Clock: clk, WindowSize: 10, MinCalls: 4, OpenWait: 30 * time.Second})

	for _, err := range []error{nil, errDown, errDown, errDown} {
		p, _ := b.Allow()
		p.Done(err)
	}
	s := b.Snapshot()
	fmt.Println(s.State, s.LastTrip.Reason, s.LastTrip.Value, s.LastTrip.Threshold)

	clk.Advance(10 * time.Second)
	_, err := b.Allow()
	wait, _ := levee.RetryAfter(err)
	fmt.Println(errors.Is(err, levee.ErrOpen), wait)
	// Output:
	// open failure_rate 75 50
	// true 20s
}

// A time window counts the calls of the last WindowDuration: failures age
// out bucket by bucket.
func Example_timeWindow() {
	clk := clocktest.New(time.Time{})
	b, _ := breaker.New(breaker.Config{Clock: clk, WindowDuration: time.Minute, WindowBuckets: 6, MinCalls: 3})

	for range 2 {
		p, _ := b.Allow()
		p.Done(errDown)
	}
	fmt.Println(b.Snapshot().Failures, "failures")
	clk.Advance(time.Minute) // the two failures age out
	for range 3 {
		p, _ := b.Allow()
		p.Done(nil)
	}
	s := b.Snapshot()
	fmt.Println(s.State, s.Calls, "calls,", s.Failures, "failures")
	// Output:
	// 2 failures
	// closed 3 calls, 0 failures
}

// Consecutive failures trip the breaker whatever the window says; after the
// open wait a timer moves it to half-open, and successful probes close it.
func Example_consecutiveFailures() {
	clk := clocktest.New(time.Time{})
	b, _ := breaker.New(breaker.Config{Clock: clk, ConsecutiveFailures: 3, FailureRate: -1,
		OpenWait: time.Second, HalfOpenProbes: 2})
	b.OnEvent(func(e levee.Event) {
		if e.Kind == levee.EventStateChange {
			fmt.Printf("%s -> %s (%s)\n", e.From, e.To, e.Reason)
		}
	})
	for range 3 {
		p, _ := b.Allow()
		p.Done(errDown)
	}
	clk.Advance(time.Second)
	for range 2 {
		p, _ := b.Allow()
		p.Done(nil)
	}
	// Output:
	// closed -> open (consecutive_failures)
	// open -> half_open (open_wait_elapsed)
	// half_open -> closed (probes_succeeded)
}

// Slow calls trip the breaker too: here, when at least 50% of the calls
// took 2s or more.
func Example_slowCalls() {
	b, _ := breaker.New(breaker.Config{WindowSize: 4, MinCalls: 4,
		SlowCallDuration: 2 * time.Second, SlowCallRate: 50})
	for _, latency := range []time.Duration{100 * time.Millisecond, 3 * time.Second, 200 * time.Millisecond, 5 * time.Second} {
		p, _ := b.Allow()
		p.Record(levee.Outcome{Result: levee.Success, Latency: latency})
	}
	t := b.Snapshot().LastTrip
	fmt.Println(b.State(), t.Reason, t.Value)
	// Output:
	// open slow_call_rate 50
}

// Adaptive throttling rejects a share of calls that grows as the
// dependency accepts fewer of them, instead of opening: with K = 2 it
// starts rejecting when fewer than half of the requests are accepted.
func Example_adaptive() {
	clk := clocktest.New(time.Time{})
	b, _ := breaker.New(breaker.Config{Clock: clk, Adaptive: true, AdaptiveK: 2}) // 2-minute window
	show := func() {
		s := b.Snapshot()
		fmt.Printf("%d requests, %d accepted: rejects %.0f%% of calls\n", s.Calls, s.Successes, 100*s.RejectProbability)
	}
	for range 50 {
		p, _ := b.Allow()
		p.Done(nil)
	}
	clk.Advance(time.Minute)
	for range 50 { // never throttled: requests never exceed 2 × accepts
		p, _ := b.Allow()
		p.Done(errDown)
	}
	show()
	clk.Advance(time.Minute + time.Second) // the successes age out
	show()
	// Output:
	// 100 requests, 50 accepted: rejects 0% of calls
	// 50 requests, 0 accepted: rejects 98% of calls
}

// Manual states take the breaker out of automatic operation; Reset brings
// it back.
func Example_manual() {
	b, _ := breaker.New(breaker.Config{})

	b.ForceOpen()
	_, err := b.Allow()
	fmt.Println(b.State(), errors.Is(err, levee.ErrRejected))

	b.MetricsOnly()
	for range 50 {
		p, _ := b.Allow()
		p.Done(errDown)
	}
	s := b.Snapshot()
	fmt.Println(s.State, s.FailureRate)

	b.Disable()
	_, err = b.Allow()
	fmt.Println(b.State(), err)

	b.Reset()
	fmt.Println(b.State(), b.Snapshot().Calls)
	// Output:
	// forced_open true
	// metrics_only 100
	// disabled <nil>
	// closed 0
}

// In a pipeline the breaker is a gate: levee.Do asks it before each call
// and reports each outcome.
func Example_pipeline() {
	b, _ := breaker.New(breaker.Config{Name: "inventory", ConsecutiveFailures: 2})
	pipeline := levee.New(b)

	fetch := func(ctx context.Context) (int, error) { return 0, errDown }
	for range 3 {
		_, err := levee.Do(context.Background(), pipeline, fetch)
		fmt.Println(err)
	}
	// Output:
	// dependency down
	// dependency down
	// levee: circuit breaker open
}

// After recovering, a breaker with a RecoveryRamp lets traffic back
// gradually: the admitted share grows linearly to 100%.
func Example_recoveryRamp() {
	clk := clocktest.New(time.Time{})
	b, _ := breaker.New(breaker.Config{Clock: clk, ConsecutiveFailures: 1, OpenWait: time.Second,
		HalfOpenProbes: 1, RecoveryRamp: 10 * time.Second})
	p, _ := b.Allow()
	p.Done(errDown) // open
	clk.Advance(time.Second)
	p, _ = b.Allow()
	p.Done(nil) // the probe succeeds: closed, ramping
	for range 3 {
		clk.Advance(4 * time.Second)
		s := b.Snapshot()
		fmt.Printf("%v, admitting %.0f%%\n", s.State, 100*s.RampShare)
	}
	// Output:
	// closed, admitting 40%
	// closed, admitting 80%
	// closed, admitting 100%
}

// Reconfigure changes a running breaker's settings without losing its
// state: an open breaker stays open, and a closed one keeps the calls its
// window has counted, judged from now on by the new thresholds.
func ExampleBreaker_Reconfigure() {
	clk := clocktest.New(time.Time{})
	b, _ := breaker.New(breaker.Config{Clock: clk, WindowSize: 10, MinCalls: 10, FailureRate: 80})
	for i := range 9 {
		p, _ := b.Allow()
		if i < 5 {
			p.Done(errors.New("timeout"))
		} else {
			p.Done(nil)
		}
	}
	err := b.Reconfigure(breaker.Config{WindowSize: 10, MinCalls: 10, FailureRate: 150})
	fmt.Println(err)
	_ = b.Reconfigure(breaker.Config{WindowSize: 10, MinCalls: 10, FailureRate: 50})
	p, _ := b.Allow()
	p.Done(nil) // 5 failures of 10: 50%
	fmt.Println(b.State())
	// Output:
	// breaker: invalid Config.FailureRate 150: must be a percentage of at most 100
	// open
}
