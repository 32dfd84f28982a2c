package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/clock/clocktest"
)

var errBoom = errors.New("boom")

func newBreaker(t *testing.T, cfg breaker.Config) (*breaker.Breaker, *clocktest.Fake) {
	t.Helper()
	clk := clocktest.New(time.Time{})
	cfg.Clock = clk
	b, err := breaker.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	return b, clk
}

// play feeds a script of calls to b: 's' success, 'f' failure, 'i' ignored,
// 'S' and 'F' a slow success and a slow failure (one hour latency), '+'
// advances the clock by step. A call the breaker rejects is counted and
// skipped.
func play(b *breaker.Breaker, clk *clocktest.Fake, step time.Duration, script string) (rejected int) {
	for _, c := range script {
		if c == '+' {
			clk.Advance(step)
			continue
		}
		p, err := b.Allow()
		if err != nil {
			rejected++
			continue
		}
		switch c {
		case 's':
			p.Record(levee.Outcome{Result: levee.Success})
		case 'f':
			p.Record(levee.Outcome{Result: levee.Failure, Err: errBoom})
		case 'i':
			p.Record(levee.Outcome{Result: levee.Ignored})
		case 'S':
			p.Record(levee.Outcome{Result: levee.Success, Latency: time.Hour})
		case 'F':
			p.Record(levee.Outcome{Result: levee.Failure, Latency: time.Hour, Err: errBoom})
		default:
			panic("bad script op " + string(c))
		}
	}
	return rejected
}

func TestTripConditions(t *testing.T) {
	tests := []struct {
		name      string
		cfg       breaker.Config
		step      time.Duration
		script    string
		want      breaker.State
		reason    string
		value     float64
		threshold float64
	}{
		{
			name:   "failure rate below min calls",
			cfg:    breaker.Config{WindowSize: 10, MinCalls: 5},
			script: "ffff",
			want:   breaker.Closed,
		},
		{
			name:   "failure rate reached at min calls",
			cfg:    breaker.Config{WindowSize: 10, MinCalls: 5},
			script: "ffffs",
			want:   breaker.Open, reason: breaker.ReasonFailureRate, value: 80, threshold: 50,
		},
		{
			name:   "success completing min calls trips",
			cfg:    breaker.Config{WindowSize: 10, MinCalls: 4, FailureRate: 50},
			script: "ffs" + "s",
			want:   breaker.Open, reason: breaker.ReasonFailureRate, value: 50, threshold: 50,
		},
		{
			name:   "failure rate under threshold",
			cfg:    breaker.Config{WindowSize: 10, MinCalls: 10, FailureRate: 50},
			script: "fsfsfsssfs" + "s",
			want:   breaker.Closed,
		},
		{
			name:   "old failures evicted from count window",
			cfg:    breaker.Config{WindowSize: 4, MinCalls: 4, FailureRate: 75},
			script: "ff" + "ssss" + "ff",
			want:   breaker.Closed,
		},
		{
			name:   "custom failure rate",
			cfg:    breaker.Config{WindowSize: 5, MinCalls: 5, FailureRate: 20},
			script: "ssssf",
			want:   breaker.Open, reason: breaker.ReasonFailureRate, value: 20, threshold: 20,
		},
		{
			name:   "ignored outcomes count for nothing",
			cfg:    breaker.Config{WindowSize: 4, MinCalls: 4},
			script: "fffiiiiiii",
			want:   breaker.Closed,
		},
		{
			name:   "consecutive failures",
			cfg:    breaker.Config{ConsecutiveFailures: 3},
			script: "sff" + "f",
			want:   breaker.Open, reason: breaker.ReasonConsecutiveFailures, value: 3, threshold: 3,
		},
		{
			name:   "consecutive failures broken by a success",
			cfg:    breaker.Config{ConsecutiveFailures: 3, FailureRate: -1},
			script: "ffsffsffif",
			want:   breaker.Open, reason: breaker.ReasonConsecutiveFailures, value: 3, threshold: 3,
		},
		{
			name:   "consecutive only, rate disabled",
			cfg:    breaker.Config{ConsecutiveFailures: 3, FailureRate: -1, WindowSize: 4, MinCalls: 2},
			script: "ffsffsffsffs",
			want:   breaker.Closed,
		},
		{
			name:   "slow call rate",
			cfg:    breaker.Config{WindowSize: 4, MinCalls: 4, SlowCallDuration: time.Second, SlowCallRate: 50},
			script: "sSsS",
			want:   breaker.Open, reason: breaker.ReasonSlowCallRate, value: 50, threshold: 50,
		},
		{
			name:   "slow call rate default 100",
			cfg:    breaker.Config{WindowSize: 4, MinCalls: 4, SlowCallDuration: time.Second},
			script: "sSSS",
			want:   breaker.Closed,
		},
		{
			name:   "slow call rate default 100 reached",
			cfg:    breaker.Config{WindowSize: 4, MinCalls: 4, SlowCallDuration: time.Second},
			script: "sSSS" + "S",
			want:   breaker.Open, reason: breaker.ReasonSlowCallRate, value: 100, threshold: 100,
		},
		{
			name:   "slow failures count for both rates, failure checked first",
			cfg:    breaker.Config{WindowSize: 4, MinCalls: 4, SlowCallDuration: time.Second, SlowCallRate: 50},
			script: "ssFF",
			want:   breaker.Open, reason: breaker.ReasonFailureRate, value: 50, threshold: 50,
		},
		{
			name:   "time window trips",
			cfg:    breaker.Config{WindowDuration: 10 * time.Second, WindowBuckets: 10, MinCalls: 4},
			step:   time.Second,
			script: "f+f+s+f",
			want:   breaker.Open, reason: breaker.ReasonFailureRate, value: 75, threshold: 50,
		},
		{
			name:   "time window ages failures out",
			cfg:    breaker.Config{WindowDuration: 10 * time.Second, WindowBuckets: 10, MinCalls: 4},
			step:   time.Second,
			script: "fff" + "++++++++++" + "sssf",
			want:   breaker.Closed,
		},
		{
			name:   "time window rolls bucket by bucket",
			cfg:    breaker.Config{WindowDuration: 4 * time.Second, WindowBuckets: 4, MinCalls: 4, FailureRate: 60},
			step:   time.Second,
			script: "ff+s+s+s+" + "f",
			// at the last call the window holds s, s, s, f: 25%
			want: breaker.Closed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, clk := newBreaker(t, tt.cfg)
			if rej := play(b, clk, tt.step, tt.script); rej != 0 {
				t.Fatalf("play(%q) rejected %d calls, want 0", tt.script, rej)
			}
			if got := b.State(); got != tt.want {
				t.Fatalf("State() = %v, want %v (snapshot %+v)", got, tt.want, b.Snapshot())
			}
			if tt.reason == "" {
				return
			}
			lt := b.Snapshot().LastTrip
			if lt.Reason != tt.reason || lt.Value != tt.value || lt.Threshold != tt.threshold {
				t.Errorf("Snapshot().LastTrip = %s %v/%v, want %s %v/%v", lt.Reason, lt.Value, lt.Threshold, tt.reason, tt.value, tt.threshold)
			}
		})
	}
}

func TestSlowCallMeasuredFromAdmission(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{WindowSize: 2, MinCalls: 2, SlowCallDuration: time.Second, SlowCallRate: 100})
	for range 2 {
		p, err := b.Allow()
		if err != nil {
			t.Fatalf("Allow() = %v", err)
		}
		clk.Advance(time.Second) // Latency zero: the breaker measures it
		p.Done(nil)
	}
	if got := b.State(); got != breaker.Open {
		t.Fatalf("State() after two 1s calls = %v, want open", got)
	}
	if got := b.Snapshot().LastTrip.Reason; got != breaker.ReasonSlowCallRate {
		t.Errorf("LastTrip.Reason = %q, want %q", got, breaker.ReasonSlowCallRate)
	}
}

func TestClassifier(t *testing.T) {
	var errClient = errors.New("client error")
	cls := func(err error) levee.Result {
		switch {
		case err == nil:
			return levee.Success
		case errors.Is(err, errClient):
			return levee.Ignored
		}
		return levee.Failure
	}
	b, _ := newBreaker(t, breaker.Config{ConsecutiveFailures: 2, Classifier: cls})
	for _, err := range []error{errClient, errClient, errClient} {
		p, _ := b.Allow()
		p.Record(levee.Outcome{Result: levee.Failure, Err: err}) // reclassified as ignored
	}
	if got := b.State(); got != breaker.Closed {
		t.Fatalf("State() after ignored errors = %v, want closed", got)
	}
	for range 2 {
		p, _ := b.Allow()
		p.Record(levee.Outcome{Result: levee.Success, Err: errBoom}) // reclassified as failure
	}
	if got := b.State(); got != breaker.Open {
		t.Fatalf("State() after two failures = %v, want open", got)
	}
}

// TestCycle walks the whole state machine on the fake clock, checking that
// the move to half-open happens on time without any call.
func TestCycle(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{ConsecutiveFailures: 2, OpenWait: 10 * time.Second, HalfOpenProbes: 2})
	steps := []struct {
		name   string
		do     func()
		want   breaker.State
		reject bool
	}{
		{"start", func() {}, breaker.Closed, false},
		{"two failures trip", func() { play(b, clk, 0, "ff") }, breaker.Open, true},
		{"not yet half-open", func() { clk.Advance(10*time.Second - 1) }, breaker.Open, true},
		{"open wait elapses", func() { clk.Advance(1) }, breaker.HalfOpen, false},
		{"one probe succeeds", func() { play(b, clk, 0, "s") }, breaker.HalfOpen, false},
		{"probe fails: reopen", func() { play(b, clk, 0, "f") }, breaker.Open, true},
		{"half-open again", func() { clk.Advance(10 * time.Second) }, breaker.HalfOpen, false},
		{"probes succeed: close", func() { play(b, clk, 0, "ss") }, breaker.Closed, false},
		{"window is fresh", func() { play(b, clk, 0, "f") }, breaker.Closed, false},
	}
	for _, st := range steps {
		st.do()
		if got := b.State(); got != st.want {
			t.Fatalf("%s: State() = %v, want %v", st.name, got, st.want)
		}
		// Peek without consuming a probe: only closed and open are probed.
		if st.want == breaker.HalfOpen {
			continue
		}
		p, err := b.Allow()
		if got := err != nil; got != st.reject {
			t.Fatalf("%s: Allow() error = %v, want rejection %v", st.name, err, st.reject)
		}
		if err == nil {
			p.Record(levee.Outcome{Result: levee.Ignored})
		}
	}
}

func TestHalfOpenProbeRates(t *testing.T) {
	tests := []struct {
		name   string
		cfg    breaker.Config
		probes string
		want   breaker.State
		reason string
	}{
		{"all succeed", breaker.Config{HalfOpenProbes: 4}, "ssss", breaker.Closed, ""},
		{"one failure of four is under 50%", breaker.Config{HalfOpenProbes: 4}, "sfss", breaker.Closed, ""},
		{"two failures of four reopen at once", breaker.Config{HalfOpenProbes: 4}, "ff", breaker.Open, breaker.ReasonProbeFailureRate},
		{"any failure reopens without a rate", breaker.Config{HalfOpenProbes: 4, FailureRate: -1, ConsecutiveFailures: 1}, "sssf", breaker.Open, breaker.ReasonProbeFailureRate},
		{"slow probes reopen", breaker.Config{HalfOpenProbes: 2, SlowCallDuration: time.Second, SlowCallRate: 50}, "sS", breaker.Open, breaker.ReasonProbeSlowCallRate},
		{"still waiting for probes", breaker.Config{HalfOpenProbes: 4}, "sss", breaker.HalfOpen, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.WindowSize, tt.cfg.MinCalls, tt.cfg.OpenWait = 10, 1, time.Second
			b, clk := newBreaker(t, tt.cfg)
			b.ForceOpen() // start from open via a trip instead:
			b.Reset()
			play(b, clk, 0, "f")
			if got := b.State(); got != breaker.Open {
				t.Fatalf("State() after a failure = %v, want open", got)
			}
			clk.Advance(time.Second)
			play(b, clk, 0, tt.probes)
			if got := b.State(); got != tt.want {
				t.Fatalf("probes %q: State() = %v, want %v", tt.probes, got, tt.want)
			}
			if tt.reason != "" {
				if got := b.Snapshot().LastTrip.Reason; got != tt.reason {
					t.Errorf("LastTrip.Reason = %q, want %q", got, tt.reason)
				}
			}
		})
	}
}

// TestHalfOpenAdmitsExactlyN races 1,000 goroutines for the probes.
func TestHalfOpenAdmitsExactlyN(t *testing.T) {
	const probes, callers = 5, 1000
	b, clk := newBreaker(t, breaker.Config{ConsecutiveFailures: 1, HalfOpenProbes: probes, OpenWait: time.Second})
	play(b, clk, 0, "f")
	clk.Advance(time.Second)
	if got := b.State(); got != breaker.HalfOpen {
		t.Fatalf("State() = %v, want half_open", got)
	}
	var admitted, rejected atomic.Int64
	permits := make(chan levee.Permit, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			<-start
			p, err := b.Allow()
			if err != nil {
				if !errors.Is(err, levee.ErrOpen) {
					t.Errorf("Allow() = %v, want ErrOpen", err)
				}
				rejected.Add(1)
				return
			}
			admitted.Add(1)
			permits <- p
		})
	}
	close(start)
	wg.Wait()
	if admitted.Load() != probes || rejected.Load() != callers-probes {
		t.Fatalf("admitted %d, rejected %d of %d callers; want %d admitted", admitted.Load(), rejected.Load(), callers, probes)
	}
	if got := b.Snapshot().ProbesAdmitted; got != probes {
		t.Errorf("Snapshot().ProbesAdmitted = %d, want %d", got, probes)
	}
	// An ignored probe gives its slot back: exactly one more is admitted.
	(<-permits).Record(levee.Outcome{Result: levee.Ignored})
	var again atomic.Int64
	for range callers {
		wg.Go(func() {
			if p, err := b.Allow(); err == nil {
				again.Add(1)
				permits <- p
			}
		})
	}
	wg.Wait()
	if again.Load() != 1 {
		t.Fatalf("after an ignored probe, %d more admitted, want 1", again.Load())
	}
	close(permits)
	for p := range permits {
		p.Done(nil)
	}
	if got := b.State(); got != breaker.Closed {
		t.Fatalf("State() after %d successful probes = %v, want closed", probes, got)
	}
}

func TestLateResultsDiscarded(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{ConsecutiveFailures: 2, OpenWait: time.Second, HalfOpenProbes: 1})
	late, _ := b.Allow()     // admitted while closed
	lateFail, _ := b.Allow() // another one
	play(b, clk, 0, "ff")    // trips
	late.Done(nil)           // from the closed generation: discarded
	clk.Advance(time.Second) // half-open
	lateFail.Done(errBoom)   // would reopen if counted as a probe
	if got := b.State(); got != breaker.HalfOpen {
		t.Fatalf("State() after late results = %v, want half_open", got)
	}
	probe, err := b.Allow()
	if err != nil {
		t.Fatalf("Allow() in half-open = %v", err)
	}
	probe.Done(nil)
	if got := b.State(); got != breaker.Closed {
		t.Fatalf("State() after probe = %v, want closed", got)
	}
	if s := b.Snapshot(); s.Calls != 0 {
		t.Errorf("Snapshot().Calls in the new window = %d, want 0", s.Calls)
	}
}

// TestProbeTimeout covers the bound on half-open: a probe that never
// reports reopens the breaker ProbeTimeout after the first probe was
// admitted, its late result is ignored, and half-open with no probe out
// waits for traffic however long it takes.
func TestProbeTimeout(t *testing.T) {
	const wait, timeout = time.Second, 10 * time.Second
	halfOpen := func(t *testing.T, cfg breaker.Config) (*breaker.Breaker, *clocktest.Fake) {
		t.Helper()
		cfg.ConsecutiveFailures, cfg.OpenWait = 1, wait
		b, clk := newBreaker(t, cfg)
		play(b, clk, 0, "f")
		clk.Advance(wait)
		if got := b.State(); got != breaker.HalfOpen {
			t.Fatalf("State() = %v, want half_open", got)
		}
		return b, clk
	}
	allow := func(t *testing.T, b *breaker.Breaker) levee.Permit {
		t.Helper()
		p, err := b.Allow()
		if err != nil {
			t.Fatalf("Allow() in half-open = %v", err)
		}
		return p
	}

	t.Run("a hung probe reopens", func(t *testing.T) {
		b, clk := halfOpen(t, breaker.Config{HalfOpenProbes: 2, ProbeTimeout: timeout})
		var events []levee.Event
		b.OnEvent(func(e levee.Event) { events = append(events, e) })
		hung := allow(t, b)
		clk.Advance(timeout / 2)
		allow(t, b).Done(nil) // the second probe succeeds; the first is still out
		clk.Advance(timeout/2 - time.Nanosecond)
		if got := b.State(); got != breaker.HalfOpen {
			t.Fatalf("State() just before the timeout = %v, want half_open", got)
		}
		clk.Advance(time.Nanosecond)
		if got := b.State(); got != breaker.Open {
			t.Fatalf("State() at the timeout = %v, want open", got)
		}
		trip := b.Snapshot().LastTrip
		if trip.Reason != breaker.ReasonProbeTimeout || trip.Value != 1 || trip.Threshold != 1 {
			t.Errorf("LastTrip = %+v, want reason %q, value 1 (probe out), threshold 1", trip, breaker.ReasonProbeTimeout)
		}
		if n := len(events); n == 0 || events[n-1].To != "open" || events[n-1].Reason != breaker.ReasonProbeTimeout {
			t.Errorf("last event = %+v, want the change to open for %q", events, breaker.ReasonProbeTimeout)
		}
		hung.Done(nil) // late: must not close the reopened breaker
		if got := b.State(); got != breaker.Open {
			t.Errorf("State() after the late result = %v, want open", got)
		}
		clk.Advance(b.Snapshot().LastTrip.Wait) // half-open again: fresh probes
		allow(t, b).Done(nil)
		allow(t, b).Done(nil)
		if got := b.State(); got != breaker.Closed {
			t.Errorf("State() after two good probes = %v, want closed", got)
		}
	})

	t.Run("no probe out: waits for traffic", func(t *testing.T) {
		b, clk := halfOpen(t, breaker.Config{HalfOpenProbes: 3, ProbeTimeout: timeout})
		clk.Advance(10 * timeout)
		allow(t, b).Done(nil) // one of three; the timeout starts here
		clk.Advance(10 * timeout)
		if got := b.State(); got != breaker.HalfOpen {
			t.Fatalf("State() with no probe out = %v, want half_open", got)
		}
		hung := allow(t, b) // arms the timeout again
		clk.Advance(timeout)
		if got := b.State(); got != breaker.Open {
			t.Fatalf("State() a timeout after a later probe hung = %v, want open", got)
		}
		hung.Done(nil)
	})

	t.Run("probes that report in time close it", func(t *testing.T) {
		b, clk := halfOpen(t, breaker.Config{HalfOpenProbes: 2, ProbeTimeout: timeout})
		p1, p2 := allow(t, b), allow(t, b)
		clk.Advance(timeout - time.Nanosecond)
		p1.Done(nil)
		p2.Done(nil)
		if got := b.State(); got != breaker.Closed {
			t.Fatalf("State() = %v, want closed", got)
		}
		if n := clk.Pending(); n != 0 {
			t.Errorf("%d timers pending after closing, want the probe timeout stopped", n)
		}
		clk.Advance(timeout)
		if got := b.State(); got != breaker.Closed {
			t.Errorf("State() after the timeout would have passed = %v, want closed", got)
		}
	})

	t.Run("negative: no bound", func(t *testing.T) {
		b, clk := halfOpen(t, breaker.Config{HalfOpenProbes: 1, ProbeTimeout: -1})
		hung := allow(t, b)
		clk.Advance(100 * breaker.DefaultProbeTimeout)
		if got := b.State(); got != breaker.HalfOpen {
			t.Fatalf("State() with ProbeTimeout < 0 = %v, want half_open", got)
		}
		hung.Done(nil)
		if got := b.State(); got != breaker.Closed {
			t.Errorf("State() after the probe = %v, want closed", got)
		}
	})

	t.Run("default is 30s", func(t *testing.T) {
		b, clk := halfOpen(t, breaker.Config{HalfOpenProbes: 1})
		hung := allow(t, b)
		clk.Advance(breaker.DefaultProbeTimeout)
		if got := b.State(); got != breaker.Open {
			t.Fatalf("State() after DefaultProbeTimeout = %v, want open", got)
		}
		hung.Done(nil)
	})
}

func TestOpenWait(t *testing.T) {
	retryErr := levee.Reject(errBoom, 7*time.Second) // a failure carrying a Retry-After
	tests := []struct {
		name  string
		cfg   breaker.Config
		err   error
		waits []time.Duration
	}{
		{"fixed", breaker.Config{OpenWait: time.Second}, errBoom, []time.Duration{time.Second, time.Second, time.Second}},
		{"default 5s", breaker.Config{}, errBoom, []time.Duration{5 * time.Second, 5 * time.Second}},
		{"exponential capped", breaker.Config{OpenWait: time.Second, OpenWaitMultiplier: 2, OpenWaitMax: 5 * time.Second}, errBoom,
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}},
		{"default cap 16x", breaker.Config{OpenWait: time.Second, OpenWaitMultiplier: 10}, errBoom,
			[]time.Duration{time.Second, 10 * time.Second, 16 * time.Second}},
		{"retry-after honored", breaker.Config{OpenWait: time.Second, HonorRetryAfter: true}, retryErr,
			[]time.Duration{7 * time.Second, 7 * time.Second}},
		{"retry-after capped", breaker.Config{OpenWait: time.Second, OpenWaitMax: 3 * time.Second, HonorRetryAfter: true}, retryErr,
			[]time.Duration{3 * time.Second}},
		{"retry-after not honored", breaker.Config{OpenWait: time.Second}, retryErr, []time.Duration{time.Second}},
		{"no retry-after: backoff", breaker.Config{OpenWait: time.Second, OpenWaitMultiplier: 3, HonorRetryAfter: true}, errBoom,
			[]time.Duration{time.Second, 3 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.ConsecutiveFailures, tt.cfg.HalfOpenProbes = 1, 1
			b, clk := newBreaker(t, tt.cfg)
			p, _ := b.Allow()
			p.Done(tt.err)
			for i, want := range tt.waits {
				if got := b.State(); got != breaker.Open {
					t.Fatalf("trip %d: State() = %v, want open", i+1, got)
				}
				_, err := b.Allow()
				if ra, ok := levee.RetryAfter(err); !ok || ra != want {
					t.Fatalf("trip %d: RetryAfter(Allow()) = %v, %v, want %v", i+1, ra, ok, want)
				}
				if got := b.Snapshot().LastTrip.Wait; got != want {
					t.Fatalf("trip %d: LastTrip.Wait = %v, want %v", i+1, got, want)
				}
				clk.Advance(want - 1)
				if got := b.State(); got != breaker.Open {
					t.Fatalf("trip %d: State() 1ns before the wait ends = %v, want open", i+1, got)
				}
				clk.Advance(1)
				if got := b.State(); got != breaker.HalfOpen {
					t.Fatalf("trip %d: State() when the wait ends = %v, want half_open", i+1, got)
				}
				p, err := b.Allow()
				if err != nil {
					t.Fatalf("trip %d: probe Allow() = %v", i+1, err)
				}
				p.Done(tt.err) // reopen: a consecutive trip
			}
		})
	}
}

func TestOpenWaitJitter(t *testing.T) {
	const base, jitter = 10 * time.Second, 0.2
	b, clk := newBreaker(t, breaker.Config{ConsecutiveFailures: 1, HalfOpenProbes: 1, OpenWait: base, OpenWaitJitter: jitter})
	lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
	for range 300 {
		play(b, clk, 0, "f")
		w := b.Snapshot().LastTrip.Wait
		if w < time.Duration(float64(base)*(1-jitter)) || w > time.Duration(float64(base)*(1+jitter)) {
			t.Fatalf("jittered wait %v outside %v ± %v%%", w, base, jitter*100)
		}
		lo, hi = min(lo, w), max(hi, w)
		b.Reset()
	}
	// 300 uniform draws over ±2s leave no gap near either end wider than
	// 0.5s except with negligible probability.
	if lo > base-1500*time.Millisecond || hi < base+1500*time.Millisecond {
		t.Errorf("jittered waits span [%v, %v], want close to [8s, 12s]", lo, hi)
	}
}

func TestRecoveryRamp(t *testing.T) {
	const ramp = 100 * time.Second
	b, clk := newBreaker(t, breaker.Config{ConsecutiveFailures: 1, HalfOpenProbes: 1, OpenWait: time.Second, RecoveryRamp: ramp})
	play(b, clk, 0, "f")
	clk.Advance(time.Second)
	play(b, clk, 0, "s")
	if got := b.State(); got != breaker.Closed {
		t.Fatalf("State() = %v, want closed", got)
	}
	for _, at := range []float64{0, 0.25, 0.5, 0.9, 1, 1.5} {
		if at > 0 {
			clk.Set(b.Snapshot().Since.Add(time.Duration(at * float64(ramp))))
		}
		want := min(at, 1)
		if got := b.Snapshot().RampShare; math.Abs(got-want) > 1e-9 {
			t.Fatalf("at %v of the ramp: Snapshot().RampShare = %v, want %v", at, got, want)
		}
		const n = 20000
		admitted := 0
		for range n {
			if p, err := b.Allow(); err == nil {
				admitted++
				p.Record(levee.Outcome{Result: levee.Ignored})
			} else if !errors.Is(err, levee.ErrOpen) {
				t.Fatalf("Allow() = %v, want ErrOpen", err)
			}
		}
		if got := float64(admitted) / n; math.Abs(got-want) > 0.02 {
			t.Errorf("at %v of the ramp: admitted share %.3f, want %.3f ± 0.02", at, got, want)
		}
	}
}

func TestAdaptiveProbability(t *testing.T) {
	tests := []struct {
		name                string
		k                   float64
		successes, failures int
	}{
		{"healthy", 2, 100, 0},
		{"half failing, K 2", 2, 50, 50},
		{"mostly failing, K 2", 2, 10, 90},
		{"all failing", 2, 0, 100},
		{"mostly failing, K 1.1", 1.1, 10, 90},
		{"one third accepted, K 3", 3, 33, 67},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := breaker.Config{Adaptive: true, AdaptiveK: tt.k, WindowDuration: time.Minute}
			prepare := func() *breaker.Breaker {
				b, clk := newBreaker(t, cfg)
				play(b, clk, 0, strings.Repeat("s", tt.successes)+strings.Repeat("f", tt.failures))
				return b
			}
			b := prepare()
			req, acc := float64(tt.successes+tt.failures), float64(tt.successes)
			want := max(0, (req-tt.k*acc)/(req+1))
			if got := b.Snapshot().RejectProbability; math.Abs(got-want) > 1e-12 {
				t.Fatalf("RejectProbability = %v, want %v", got, want)
			}
			if got := b.State(); got != breaker.Closed {
				t.Fatalf("State() = %v, adaptive mode stays closed", got)
			}
			// The first call after the window is prepared is rejected with
			// probability want; sample it on fresh breakers.
			const trials = 3000
			rejected := 0
			for range trials {
				if _, err := prepare().Allow(); err != nil {
					rejected++
				}
			}
			if got := float64(rejected) / trials; math.Abs(got-want) > 0.035 {
				t.Errorf("rejected share %.3f, want %.3f ± 0.035", got, want)
			}
		})
	}
}

func TestAdaptiveCountsThrottledRequests(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{Adaptive: true, WindowSize: 1000, MinCalls: 1})
	play(b, clk, 0, strings.Repeat("f", 100))
	before := b.Snapshot()
	rej := play(b, clk, 0, strings.Repeat("f", 100))
	after := b.Snapshot()
	if rej == 0 {
		t.Fatalf("no call throttled with a window of failures")
	}
	if after.Calls != before.Calls+100 {
		t.Errorf("Snapshot().Calls = %d, want %d (throttled calls count as requests)", after.Calls, before.Calls+100)
	}
}

func TestManualStates(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{WindowSize: 4, MinCalls: 4, ConsecutiveFailures: 2, OpenWait: time.Second})

	b.ForceOpen()
	if _, err := b.Allow(); !errors.Is(err, levee.ErrOpen) || !errors.Is(err, levee.ErrRejected) {
		t.Fatalf("Allow() forced open = %v, want ErrOpen", err)
	}
	clk.Advance(time.Hour)
	if got := b.State(); got != breaker.ForcedOpen {
		t.Fatalf("State() an hour after ForceOpen = %v, want forced_open", got)
	}

	b.Disable()
	if rej := play(b, clk, 0, "ffffffff"); rej != 0 {
		t.Fatalf("disabled breaker rejected %d calls", rej)
	}
	if s := b.Snapshot(); s.State != breaker.Disabled || s.Calls != 0 {
		t.Fatalf("Snapshot() disabled = %v with %d calls, want disabled with 0", s.State, s.Calls)
	}

	b.MetricsOnly()
	if rej := play(b, clk, 0, "ffffffsf"); rej != 0 {
		t.Fatalf("metrics-only breaker rejected %d calls", rej)
	}
	if s := b.Snapshot(); s.State != breaker.MetricsOnly || s.Calls != 4 || s.Failures != 3 || s.FailureRate != 75 || s.ConsecutiveFailures != 1 {
		t.Fatalf("Snapshot() metrics only = %+v, want 4 calls, 3 failures, 75%%, 1 consecutive", s)
	}

	b.Reset()
	if s := b.Snapshot(); s.State != breaker.Closed || s.Calls != 0 {
		t.Fatalf("Snapshot() after Reset = %v with %d calls, want closed and empty", s.State, s.Calls)
	}
	play(b, clk, 0, "ff")
	if got := b.State(); got != breaker.Open {
		t.Fatalf("State() after Reset and two failures = %v, want open (automatic again)", got)
	}
	// A manual state cancels the pending move to half-open.
	b.ForceOpen()
	clk.Advance(time.Second)
	if got := b.State(); got != breaker.ForcedOpen {
		t.Fatalf("State() after the old open wait = %v, want forced_open", got)
	}
	b.Reset()
	if got := b.State(); got != breaker.Closed {
		t.Fatalf("State() after Reset = %v, want closed", got)
	}
}

func TestSnapshot(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{Name: "db", WindowSize: 10, MinCalls: 5, SlowCallDuration: time.Second, SlowCallRate: -1, OpenWait: 30 * time.Second})
	start := clk.Now()
	play(b, clk, 0, "sSsf")
	s := b.Snapshot()
	want := breaker.Snapshot{Name: "db", State: breaker.Closed, Since: start, Calls: 4, Successes: 3, Failures: 1, SlowCalls: 1,
		FailureRate: 25, SlowCallRate: 25, ConsecutiveFailures: 1, RampShare: 1}
	if s != want {
		t.Fatalf("Snapshot() = %+v\nwant %+v", s, want)
	}
	clk.Advance(time.Minute)
	play(b, clk, 0, "ff") // 6 calls: 3 failures = 50%
	s = b.Snapshot()
	tripped := clk.Now()
	if s.State != breaker.Open || !s.Since.Equal(tripped) || s.RetryAfter != 30*time.Second || s.Trips != 1 {
		t.Fatalf("Snapshot() after trip = %+v, want open since %v, 30s left, 1 trip", s, tripped)
	}
	wantTrip := breaker.Trip{Reason: breaker.ReasonFailureRate, Value: 50, Threshold: 50, Time: tripped, Wait: 30 * time.Second, Err: errBoom}
	if s.LastTrip != wantTrip {
		t.Fatalf("Snapshot().LastTrip = %+v, want %+v", s.LastTrip, wantTrip)
	}
	if s.Calls != 6 || s.Failures != 3 {
		t.Errorf("Snapshot() open: %d calls, %d failures, want the tripping window's 6, 3", s.Calls, s.Failures)
	}
	clk.Advance(10 * time.Second)
	if got := b.Snapshot().RetryAfter; got != 20*time.Second {
		t.Errorf("Snapshot().RetryAfter 10s later = %v, want 20s", got)
	}
	clk.Advance(20 * time.Second)
	p, _ := b.Allow()
	s = b.Snapshot()
	if s.State != breaker.HalfOpen || s.ProbesAdmitted != 1 || s.LastTrip != wantTrip {
		t.Fatalf("Snapshot() half-open = %+v, want 1 probe admitted and the same last trip", s)
	}
	p.Done(nil)
	if s = b.Snapshot(); s.ProbeSuccesses != 1 {
		t.Fatalf("Snapshot().ProbeSuccesses = %d, want 1", s.ProbeSuccesses)
	}
}

func TestEvents(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{Name: "api", ConsecutiveFailures: 2, HalfOpenProbes: 1, OpenWait: time.Second})
	var got []string
	var inListener []breaker.State
	b.OnEvent(func(e levee.Event) {
		if e.Policy != "breaker" || e.Name != "api" {
			t.Errorf("event %+v: Policy, Name = %q, %q, want breaker, api", e, e.Policy, e.Name)
		}
		switch e.Kind {
		case levee.EventStateChange:
			got = append(got, fmt.Sprintf("%s>%s:%s(%v/%v)", e.From, e.To, e.Reason, e.Value, e.Threshold))
			// Listeners run outside the lock: reading the breaker works.
			inListener = append(inListener, b.State())
			_ = b.Snapshot()
		case levee.EventRejected:
			ra, _ := levee.RetryAfter(e.Err)
			got = append(got, fmt.Sprintf("rejected:%s:%v:%v", e.Reason, e.Wait, ra))
		}
	})
	play(b, clk, 0, "ff")
	clk.Advance(400 * time.Millisecond)
	play(b, clk, 0, "s")
	clk.Advance(600 * time.Millisecond)
	play(b, clk, 0, "s")
	b.ForceOpen()
	play(b, clk, 0, "s")
	b.Reset()
	want := []string{
		"closed>open:consecutive_failures(2/2)",
		"rejected:open:600ms:600ms",
		"open>half_open:open_wait_elapsed(0/0)",
		"half_open>closed:probes_succeeded(1/1)",
		"closed>forced_open:forced_open(0/0)",
		"rejected:forced_open:0s:0s",
		"forced_open>closed:reset(0/0)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantStates := []breaker.State{breaker.Open, breaker.HalfOpen, breaker.Closed, breaker.ForcedOpen, breaker.Closed}
	if fmt.Sprint(inListener) != fmt.Sprint(wantStates) {
		t.Errorf("State() inside listeners = %v, want %v", inListener, wantStates)
	}
}

func TestListenerMayTransition(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{ConsecutiveFailures: 1})
	var seen []string
	b.OnEvent(func(e levee.Event) {
		if e.Kind != levee.EventStateChange {
			return
		}
		seen = append(seen, e.To)
		if e.To == "open" {
			b.ForceOpen() // a transition from inside a listener must not deadlock
		}
	})
	play(b, clk, 0, "f")
	if got := b.State(); got != breaker.ForcedOpen {
		t.Fatalf("State() = %v, want forced_open", got)
	}
	if strings.Join(seen, ",") != "open,forced_open" {
		t.Errorf("events seen %v, want [open forced_open] in order", seen)
	}
}

func TestRemoveListener(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{ConsecutiveFailures: 1})
	n := 0
	remove := b.OnEvent(func(levee.Event) { n++ })
	remove()
	play(b, clk, 0, "ff")
	if n != 0 {
		t.Errorf("removed listener called %d times, want 0", n)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name  string
		cfg   breaker.Config
		field string
	}{
		{"negative window", breaker.Config{WindowSize: -1}, "WindowSize"},
		{"huge window", breaker.Config{WindowSize: 1 << 25}, "WindowSize"},
		{"negative duration", breaker.Config{WindowDuration: -time.Second}, "WindowDuration"},
		{"negative buckets", breaker.Config{WindowBuckets: -1}, "WindowBuckets"},
		{"buckets narrower than 1ns", breaker.Config{WindowDuration: 5, WindowBuckets: 10}, "WindowBuckets"},
		{"negative min calls", breaker.Config{MinCalls: -1}, "MinCalls"},
		{"min calls above window", breaker.Config{WindowSize: 10, MinCalls: 11}, "MinCalls"},
		{"failure rate above 100", breaker.Config{FailureRate: 150}, "FailureRate"},
		{"failure rate NaN", breaker.Config{FailureRate: math.NaN()}, "FailureRate"},
		{"negative slow duration", breaker.Config{SlowCallDuration: -1}, "SlowCallDuration"},
		{"slow rate above 100", breaker.Config{SlowCallDuration: time.Second, SlowCallRate: 101}, "SlowCallRate"},
		{"slow rate without duration", breaker.Config{SlowCallRate: 50}, "SlowCallRate"},
		{"negative consecutive", breaker.Config{ConsecutiveFailures: -2}, "ConsecutiveFailures"},
		{"negative open wait", breaker.Config{OpenWait: -time.Second}, "OpenWait"},
		{"shrinking multiplier", breaker.Config{OpenWaitMultiplier: 0.5}, "OpenWaitMultiplier"},
		{"negative multiplier", breaker.Config{OpenWaitMultiplier: -2}, "OpenWaitMultiplier"},
		{"max below wait", breaker.Config{OpenWait: time.Minute, OpenWaitMax: time.Second}, "OpenWaitMax"},
		{"negative max", breaker.Config{OpenWaitMax: -1}, "OpenWaitMax"},
		{"jitter above 1", breaker.Config{OpenWaitJitter: 1.5}, "OpenWaitJitter"},
		{"negative jitter", breaker.Config{OpenWaitJitter: -0.1}, "OpenWaitJitter"},
		{"negative probes", breaker.Config{HalfOpenProbes: -1}, "HalfOpenProbes"},
		{"probes above window", breaker.Config{WindowSize: 5, HalfOpenProbes: 6}, "HalfOpenProbes"},
		{"negative ramp", breaker.Config{RecoveryRamp: -time.Second}, "RecoveryRamp"},
		{"K below 1", breaker.Config{Adaptive: true, AdaptiveK: 0.5}, "AdaptiveK"},
		{"adaptive with failure rate", breaker.Config{Adaptive: true, FailureRate: 50}, "FailureRate"},
		{"adaptive with consecutive", breaker.Config{Adaptive: true, ConsecutiveFailures: 3}, "ConsecutiveFailures"},
		{"adaptive with slow calls", breaker.Config{Adaptive: true, SlowCallDuration: time.Second}, "SlowCallDuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := breaker.New(tt.cfg)
			var ce *breaker.ConfigError
			if !errors.As(err, &ce) || b != nil {
				t.Fatalf("New(%+v) = %v, %v, want a *ConfigError", tt.cfg, b, err)
			}
			if ce.Field != tt.field {
				t.Errorf("New(%+v) error field = %q, want %q", tt.cfg, ce.Field, tt.field)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.field) || !strings.Contains(msg, fmt.Sprint(ce.Value)) {
				t.Errorf("error %q does not name the field %s and its value %v", msg, tt.field, ce.Value)
			}
		})
	}
	valid := []breaker.Config{
		{},
		{WindowSize: 5}, // MinCalls and probes capped to 5
		{WindowSize: 1, MinCalls: 1, HalfOpenProbes: 1},
		{WindowDuration: time.Minute, MinCalls: 1000, HalfOpenProbes: 50},
		{FailureRate: -1, ConsecutiveFailures: 5},
		{SlowCallDuration: time.Second, SlowCallRate: -1},
		{OpenWaitMultiplier: 1, OpenWaitJitter: 1, OpenWaitMax: 5 * time.Second},
		{Adaptive: true},
		{Adaptive: true, AdaptiveK: 1, WindowSize: 50},
	}
	for _, cfg := range valid {
		if _, err := breaker.New(cfg); err != nil {
			t.Errorf("New(%+v) = %v, want no error", cfg, err)
		}
	}
}

func TestStateString(t *testing.T) {
	want := map[breaker.State]string{breaker.Closed: "closed", breaker.Open: "open", breaker.HalfOpen: "half_open",
		breaker.ForcedOpen: "forced_open", breaker.Disabled: "disabled", breaker.MetricsOnly: "metrics_only", 99: "unknown"}
	for s, w := range want {
		if got := s.String(); got != w {
			t.Errorf("State(%d).String() = %q, want %q", s, got, w)
		}
	}
}

func TestGate(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{ConsecutiveFailures: 1})
	if got := b.Stage(); got != levee.StageBreaker {
		t.Errorf("Stage() = %v, want %v", got, levee.StageBreaker)
	}
	p, err := b.Acquire(t.Context())
	if err != nil {
		t.Fatalf("Acquire() = %v", err)
	}
	p.Done(errBoom)
	if _, err := b.Acquire(t.Context()); !errors.Is(err, levee.ErrOpen) {
		t.Fatalf("Acquire() after a failure = %v, want ErrOpen", err)
	}
}

func TestPipeline(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{ConsecutiveFailures: 2})
	pl := levee.New(b)
	calls := 0
	fn := func(ctx context.Context) (int, error) { calls++; return 0, errBoom }
	for range 3 {
		_, err := levee.Do(t.Context(), pl, fn)
		_ = err
	}
	if calls != 2 {
		t.Errorf("dependency called %d times, want 2 (then the breaker opened)", calls)
	}
	if _, err := levee.Do(t.Context(), pl, fn); !errors.Is(err, levee.ErrOpen) {
		t.Errorf("Do() on an open breaker = %v, want ErrOpen", err)
	}
}
