package breaker_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/internal/conformance"
)

func TestReconfigureKeepsClosedWindow(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{WindowSize: 10, MinCalls: 10, FailureRate: 90})
	play(b, clk, 0, "ffffssss")
	if err := b.Reconfigure(breaker.Config{WindowSize: 10, MinCalls: 10, FailureRate: 50}); err != nil {
		t.Fatalf("Reconfigure = %v", err)
	}
	if s := b.Snapshot(); s.Calls != 8 || s.Failures != 4 || s.State != breaker.Closed {
		t.Fatalf("after Reconfigure with the same window: %s, %d calls, %d failures; want closed, 8, 4", s.State, s.Calls, s.Failures)
	}
	play(b, clk, 0, "fs") // 10 calls, 5 failures: 50% trips the new threshold
	if s := b.Snapshot(); s.State != breaker.Open || s.LastTrip.Threshold != 50 {
		t.Fatalf("after 5 of 10 failures under FailureRate 50: %s (threshold %v), want open at 50", s.State, s.LastTrip.Threshold)
	}
}

func TestReconfigureNewWindowShape(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{WindowSize: 10, MinCalls: 5})
	play(b, clk, 0, "ffss")
	if err := b.Reconfigure(breaker.Config{WindowSize: 20, MinCalls: 5}); err != nil {
		t.Fatalf("Reconfigure = %v", err)
	}
	if s := b.Snapshot(); s.Calls != 0 || s.State != breaker.Closed {
		t.Errorf("after Reconfigure to another window size: %s with %d calls, want closed with an empty window", s.State, s.Calls)
	}
}

func TestReconfigureKeepsOpenState(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{ConsecutiveFailures: 1, OpenWait: 10 * time.Second})
	play(b, clk, 0, "f")
	clk.Advance(4 * time.Second)
	if err := b.Reconfigure(breaker.Config{ConsecutiveFailures: 3, OpenWait: time.Minute, WindowSize: 50}); err != nil {
		t.Fatalf("Reconfigure = %v", err)
	}
	s := b.Snapshot()
	if s.State != breaker.Open || s.RetryAfter != 6*time.Second || s.LastTrip.Reason != breaker.ReasonConsecutiveFailures {
		t.Fatalf("after Reconfigure while open: %s, retry after %v, last trip %q; want open, 6s, %q",
			s.State, s.RetryAfter, s.LastTrip.Reason, breaker.ReasonConsecutiveFailures)
	}
	if _, err := b.Allow(); !errors.Is(err, levee.ErrOpen) {
		t.Fatalf("Allow() while open after Reconfigure = %v, want ErrOpen", err)
	}
	clk.Advance(6 * time.Second)
	if s := b.Snapshot(); s.State != breaker.HalfOpen {
		t.Fatalf("when the original wait ends: %s, want half_open", s.State)
	}
}

func TestReconfigureHalfOpenRestartsProbes(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{ConsecutiveFailures: 1, OpenWait: time.Second, HalfOpenProbes: 1})
	play(b, clk, 0, "f")
	clk.Advance(time.Second)
	old, err := b.Allow()
	if err != nil {
		t.Fatalf("Allow() in half-open = %v", err)
	}
	if err := b.Reconfigure(breaker.Config{ConsecutiveFailures: 1, OpenWait: time.Second, HalfOpenProbes: 2}); err != nil {
		t.Fatalf("Reconfigure = %v", err)
	}
	old.Done(nil) // a probe of the replaced period: does not count
	play(b, clk, 0, "s")
	if s := b.Snapshot(); s.State != breaker.HalfOpen || s.ProbeSuccesses != 1 {
		t.Fatalf("after one of two new probes: %s with %d successes, want half_open with 1", s.State, s.ProbeSuccesses)
	}
	play(b, clk, 0, "s")
	if s := b.Snapshot(); s.State != breaker.Closed {
		t.Fatalf("after both new probes: %s, want closed", s.State)
	}
}

func TestReconfigureKeepsManualState(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{})
	b.ForceOpen()
	if err := b.Reconfigure(breaker.Config{FailureRate: 20}); err != nil {
		t.Fatalf("Reconfigure = %v", err)
	}
	if s := b.State(); s != breaker.ForcedOpen {
		t.Errorf("State() after Reconfigure = %s, want forced_open", s)
	}
}

// TestReconfigureInFlightCount: a call admitted before a Reconfigure that
// keeps the window is counted when it ends after it.
func TestReconfigureInFlightCount(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{WindowSize: 10})
	p, err := b.Allow()
	if err != nil {
		t.Fatalf("Allow() = %v", err)
	}
	if err := b.Reconfigure(breaker.Config{WindowSize: 10, FailureRate: 80}); err != nil {
		t.Fatalf("Reconfigure = %v", err)
	}
	p.Done(errBoom)
	p.Done(errBoom)
	if s := b.Snapshot(); s.Calls != 1 || s.Failures != 1 || s.ConsecutiveFailures != 1 {
		t.Errorf("after a permit from before Reconfigure settled twice: %d calls, %d failures, %d in a row; want 1, 1, 1",
			s.Calls, s.Failures, s.ConsecutiveFailures)
	}
}

func TestReconfigureRefusesBadConfig(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{Name: "db", WindowSize: 10, MinCalls: 10, FailureRate: 50})
	play(b, clk, 0, "fff")
	for _, tt := range []struct {
		cfg   breaker.Config
		field string
	}{
		{breaker.Config{FailureRate: 150}, "FailureRate"},
		{breaker.Config{WindowSize: 10, MinCalls: 11}, "MinCalls"},
		{breaker.Config{Name: "other"}, "Name"},
		{breaker.Config{Clock: clocktest.New(time.Time{})}, "Clock"},
	} {
		err := b.Reconfigure(tt.cfg)
		var ce *breaker.ConfigError
		if !errors.As(err, &ce) || ce.Field != tt.field {
			t.Errorf("Reconfigure(%+v) = %v, want a ConfigError on %s", tt.cfg, err, tt.field)
		}
	}
	play(b, clk, 0, "fffffff") // 10 failures of 10 under the running config
	if s := b.Snapshot(); s.State != breaker.Open || s.LastTrip.Threshold != 50 || s.Name != "db" {
		t.Errorf("after refused Reconfigures: %s %q threshold %v, want open \"db\" at 50 (config untouched)", s.State, s.Name, s.LastTrip.Threshold)
	}
}

// TestReconfigureDuringTraffic runs Reconfigure against concurrent calls
// (for the race detector) and checks that every settled call is counted
// once: no permit is lost or counted twice across the changes.
func TestReconfigureDuringTraffic(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{WindowSize: 1 << 16, MinCalls: 1 << 16, FailureRate: -1})
	const workers, calls, reconfigures = 4, 2000, 200
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range calls {
				p, err := b.Allow()
				if err != nil {
					t.Errorf("Allow() = %v", err)
					return
				}
				p.Done(nil)
				p.Done(nil)
			}
		})
	}
	for i := range reconfigures {
		cfg := breaker.Config{WindowSize: 1 << 16, MinCalls: 1 << 16, FailureRate: -1, SlowCallDuration: time.Duration(i+1) * time.Hour}
		if err := b.Reconfigure(cfg); err != nil {
			t.Fatalf("Reconfigure = %v", err)
		}
	}
	wg.Wait()
	// A permit settled after two Reconfigures is dropped (only the last
	// replaced generation is adopted): each Reconfigure drops at most the
	// calls then in flight, one per worker. None is ever counted twice.
	if s := b.Snapshot(); s.Calls > workers*calls || s.Calls < workers*calls-reconfigures*workers {
		t.Errorf("after %d calls during %d Reconfigures: %d counted, want %d at most and %d at least",
			workers*calls, reconfigures, s.Calls, workers*calls, workers*calls-reconfigures*workers)
	}
}

func TestReconfigureSettleOnce(t *testing.T) {
	conformance.SettleOnceAcrossReconfigure(t, func(clk clock.Clock) levee.Gate {
		b, err := breaker.New(breaker.Config{Clock: clk, WindowSize: 10, MinCalls: 10, HalfOpenProbes: 2, ConsecutiveFailures: 100})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}, func(g levee.Gate) int { return int(g.(*breaker.Breaker).Snapshot().Failures) },
		func(g levee.Gate) error {
			return g.(*breaker.Breaker).Reconfigure(breaker.Config{WindowSize: 10, MinCalls: 10, HalfOpenProbes: 2, ConsecutiveFailures: 100})
		})
}
