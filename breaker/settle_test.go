package breaker_test

import (
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
)

// TestSettleOnce checks that a permit counts once, however often it is
// settled: a second settle, and a settle of a permit from an earlier
// generation, leave the breaker's state and counts as they were.
func TestSettleOnce(t *testing.T) {
	closedKinds := []struct {
		name        string
		cfg         breaker.Config
		metricsOnly bool
	}{
		{name: "count window", cfg: breaker.Config{WindowSize: 10, MinCalls: 2, ConsecutiveFailures: 2}},
		{name: "time window", cfg: breaker.Config{WindowDuration: time.Minute, MinCalls: 2, ConsecutiveFailures: 2}},
		{name: "slow calls", cfg: breaker.Config{WindowSize: 10, MinCalls: 2, SlowCallDuration: time.Second, SlowCallRate: 50}},
		{name: "adaptive", cfg: breaker.Config{Adaptive: true}},
		{name: "metrics only", cfg: breaker.Config{WindowSize: 10, ConsecutiveFailures: 2}, metricsOnly: true},
	}
	for _, tt := range closedKinds {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := newBreaker(t, tt.cfg)
			if tt.metricsOnly {
				b.MetricsOnly()
			}
			play(b, nil, 0, "sss")
			p, err := b.Allow()
			if err != nil {
				t.Fatalf("Allow() = %v", err)
			}
			slowFailure := levee.Outcome{Result: levee.Failure, Latency: time.Hour, Err: errBoom}
			p.Record(slowFailure)
			want := b.Snapshot()
			p.Record(slowFailure)
			p.Done(errBoom)
			p.Done(nil)
			got := b.Snapshot()
			if got.State != want.State || got.Calls != want.Calls || got.Failures != want.Failures ||
				got.SlowCalls != want.SlowCalls || got.ConsecutiveFailures != want.ConsecutiveFailures {
				t.Errorf("after settling one permit four times: %s %d calls, %d failures, %d slow, %d in a row; want %s %d, %d, %d, %d",
					got.State, got.Calls, got.Failures, got.SlowCalls, got.ConsecutiveFailures,
					want.State, want.Calls, want.Failures, want.SlowCalls, want.ConsecutiveFailures)
			}
		})
	}

	t.Run("half-open ignored probe frees one slot", func(t *testing.T) {
		b, clk := newBreaker(t, breaker.Config{ConsecutiveFailures: 1, HalfOpenProbes: 2, OpenWait: time.Second})
		play(b, clk, 0, "f")
		clk.Advance(time.Second)
		p, err := b.Allow()
		if err != nil {
			t.Fatalf("Allow() in half-open = %v", err)
		}
		p.Record(levee.Outcome{Result: levee.Ignored})
		p.Record(levee.Outcome{Result: levee.Ignored})
		admitted := 0
		for range 5 {
			if _, err := b.Allow(); err == nil {
				admitted++
			}
		}
		if admitted != 2 {
			t.Errorf("after one ignored probe settled twice, %d probes admitted, want 2", admitted)
		}
	})

	t.Run("half-open probe success counts once", func(t *testing.T) {
		b, clk := newBreaker(t, breaker.Config{ConsecutiveFailures: 1, HalfOpenProbes: 2, OpenWait: time.Second})
		play(b, clk, 0, "f")
		clk.Advance(time.Second)
		p, err := b.Allow()
		if err != nil {
			t.Fatalf("Allow() in half-open = %v", err)
		}
		p.Done(nil)
		p.Done(nil)
		if s := b.Snapshot(); s.State != breaker.HalfOpen || s.ProbeSuccesses != 1 {
			t.Errorf("after one probe settled twice: %s with %d probe successes, want half_open with 1", s.State, s.ProbeSuccesses)
		}
	})

	t.Run("permit of an earlier generation", func(t *testing.T) {
		b, clk := newBreaker(t, breaker.Config{ConsecutiveFailures: 1, HalfOpenProbes: 1, OpenWait: time.Second})
		old, err := b.Allow()
		if err != nil {
			t.Fatalf("Allow() = %v", err)
		}
		old.Done(nil)
		play(b, clk, 0, "f") // open
		clk.Advance(time.Second)
		old.Done(nil) // settled again, from the closed generation
		if s := b.Snapshot(); s.State != breaker.HalfOpen || s.ProbeSuccesses != 0 {
			t.Errorf("after a stale settle: %s with %d probe successes, want half_open with 0", s.State, s.ProbeSuccesses)
		}
		b.Reset()
		old.Done(errBoom)
		if s := b.Snapshot(); s.Calls != 0 || s.State != breaker.Closed {
			t.Errorf("after a stale settle past Reset: %s with %d calls, want closed with 0", s.State, s.Calls)
		}
	})
}

// TestRejectionValueUnits checks that the shares carried by rejection
// events are percentages, like every rate of the breaker: a quarter of the
// way through a recovery ramp, Value is 25.
func TestRejectionValueUnits(t *testing.T) {
	const ramp = 100 * time.Second
	b, clk := newBreaker(t, breaker.Config{ConsecutiveFailures: 1, HalfOpenProbes: 1, OpenWait: time.Second, RecoveryRamp: ramp})
	play(b, clk, 0, "f")
	clk.Advance(time.Second)
	play(b, clk, 0, "s")
	clk.Set(b.Snapshot().Since.Add(ramp / 4))
	var got []float64
	b.OnEvent(func(e levee.Event) {
		if e.Kind == levee.EventRejected && e.Reason == breaker.ReasonRecoveryRamp {
			got = append(got, e.Value)
		}
	})
	for range 100 {
		if p, err := b.Allow(); err == nil {
			p.Record(levee.Outcome{Result: levee.Ignored})
		}
	}
	if len(got) == 0 || got[0] != 25 {
		t.Errorf("recovery-ramp rejection Values = %v, want 25 (percent)", got)
	}
}

// TestTicketsAcrossBreakers checks that permits of two breakers admitted
// and settled in turn on one goroutine (so that each reuses the ticket the
// other just gave back) count in their own breaker only, and that a success
// into a window of successes (which records nothing) leaves the window
// ready to count the next failure.
func TestTicketsAcrossBreakers(t *testing.T) {
	cfg := breaker.Config{WindowSize: 4, FailureRate: -1} // counts, never trips
	a, _ := newBreaker(t, cfg)
	b, _ := newBreaker(t, cfg)
	settle := func(br *breaker.Breaker, err error) {
		t.Helper()
		p, aerr := br.Allow()
		if aerr != nil {
			t.Fatalf("Allow() = %v", aerr)
		}
		p.Done(err)
		p.Done(err) // counts once
	}
	for range 8 { // fill a's window with successes, and then some
		settle(a, nil)
		settle(b, errBoom)
	}
	settle(a, errBoom)
	if s := a.Snapshot(); s.Calls != 4 || s.Failures != 1 || s.ConsecutiveFailures != 1 {
		t.Errorf("a: Calls, Failures, ConsecutiveFailures = %d, %d, %d, want 4, 1, 1", s.Calls, s.Failures, s.ConsecutiveFailures)
	}
	if s := b.Snapshot(); s.Calls != 4 || s.Failures != 4 || s.ConsecutiveFailures != 8 {
		t.Errorf("b: Calls, Failures, ConsecutiveFailures = %d, %d, %d, want 4, 4, 8", s.Calls, s.Failures, s.ConsecutiveFailures)
	}
}
