package breaker_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/clock/clocktest"
)

func mustNew(tb testing.TB, cfg breaker.Config) *breaker.Breaker {
	tb.Helper()
	b, err := breaker.New(cfg)
	if err != nil {
		tb.Fatalf("New(%+v) = %v", cfg, err)
	}
	return b
}

// openBreaker returns a breaker that stays open for the whole benchmark.
func openBreaker(tb testing.TB) *breaker.Breaker {
	b := mustNew(tb, breaker.Config{ConsecutiveFailures: 1, OpenWait: time.Hour})
	p, _ := b.Allow()
	p.Done(errors.New("down"))
	if b.State() != breaker.Open {
		tb.Fatalf("State() = %v, want open", b.State())
	}
	return b
}

var success = levee.Outcome{Result: levee.Success}

// BenchmarkClosed: count window, failure-rate trip, successful calls.
func BenchmarkClosed(b *testing.B) {
	br := mustNew(b, breaker.Config{})
	b.ReportAllocs()
	for b.Loop() {
		p, err := br.Allow()
		if err != nil {
			b.Fatal(err)
		}
		p.Record(success)
	}
}

// BenchmarkClosedTime: time window (one monotonic clock read per call).
func BenchmarkClosedTime(b *testing.B) {
	br := mustNew(b, breaker.Config{WindowDuration: 10 * time.Second})
	b.ReportAllocs()
	for b.Loop() {
		p, err := br.Allow()
		if err != nil {
			b.Fatal(err)
		}
		p.Record(success)
	}
}

// BenchmarkClosedSlow: count window with slow-call tracking (two clock
// reads per call: admission and completion).
func BenchmarkClosedSlow(b *testing.B) {
	br := mustNew(b, breaker.Config{SlowCallDuration: time.Second})
	b.ReportAllocs()
	for b.Loop() {
		p, err := br.Allow()
		if err != nil {
			b.Fatal(err)
		}
		p.Record(success)
	}
}

// BenchmarkClosedFailing: a 1-in-10 failure rate, under the threshold, so
// the window keeps changing and the trip condition is evaluated.
func BenchmarkClosedFailing(b *testing.B) {
	br := mustNew(b, breaker.Config{})
	fail := levee.Outcome{Result: levee.Failure}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p, err := br.Allow()
		if err != nil {
			b.Fatal(err)
		}
		if i++; i%10 == 0 {
			p.Record(fail)
		} else {
			p.Record(success)
		}
	}
}

func BenchmarkClosedParallel(b *testing.B) {
	br := mustNew(b, breaker.Config{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, err := br.Allow()
			if err != nil {
				b.Error(err)
				return
			}
			p.Record(success)
		}
	})
}

func BenchmarkClosedTimeParallel(b *testing.B) {
	br := mustNew(b, breaker.Config{WindowDuration: 10 * time.Second})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, err := br.Allow()
			if err != nil {
				b.Error(err)
				return
			}
			p.Record(success)
		}
	})
}

func BenchmarkOpen(b *testing.B) {
	br := openBreaker(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := br.Allow(); err == nil {
			b.Fatal("admitted while open")
		}
	}
}

func BenchmarkOpenParallel(b *testing.B) {
	br := openBreaker(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := br.Allow(); err == nil {
				b.Error("admitted while open")
				return
			}
		}
	})
}

// BenchmarkOpenListener: rejecting with a listener registered builds and
// emits an event per rejection.
func BenchmarkOpenListener(b *testing.B) {
	br := openBreaker(b)
	br.OnEvent(func(levee.Event) {})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := br.Allow(); err == nil {
			b.Fatal("admitted while open")
		}
	}
}

func BenchmarkAdaptive(b *testing.B) {
	br := mustNew(b, breaker.Config{Adaptive: true, WindowSize: 100})
	b.ReportAllocs()
	for b.Loop() {
		if p, err := br.Allow(); err == nil {
			p.Record(success)
		}
	}
}

func TestAllocsClosed(t *testing.T) {
	cfgs := map[string]breaker.Config{
		"count":    {},
		"time":     {WindowDuration: time.Minute},
		"slow":     {SlowCallDuration: time.Second},
		"adaptive": {Adaptive: true},
		"ramp":     {RecoveryRamp: time.Minute},
	}
	for name, cfg := range cfgs {
		br := mustNew(t, cfg)
		fail := levee.Outcome{Result: levee.Failure}
		i := 0
		allocs := testing.AllocsPerRun(1000, func() {
			p, err := br.Allow()
			if err != nil {
				return
			}
			if i++; i%10 == 0 {
				p.Record(fail)
			} else {
				p.Done(nil)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Allow+Record allocates %v times, want 0", name, allocs)
		}
	}
}

func TestAllocsOpen(t *testing.T) {
	br := openBreaker(t)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := br.Allow(); err == nil {
			t.Fatal("admitted while open")
		}
	})
	if allocs != 0 {
		t.Errorf("Allow while open allocates %v times, want 0", allocs)
	}
	br.OnEvent(func(levee.Event) {})
	if allocs := testing.AllocsPerRun(1000, func() { br.Allow() }); allocs != 0 {
		t.Errorf("Allow while open with a listener allocates %v times, want 0", allocs)
	}
}

func TestAllocsHalfOpen(t *testing.T) {
	clk := clocktest.New(time.Time{})
	br := mustNew(t, breaker.Config{Clock: clk, ConsecutiveFailures: 1, OpenWait: time.Second, HalfOpenProbes: 2})
	p, _ := br.Allow()
	p.Done(errors.New("down"))
	clk.Advance(time.Second)
	allocs := testing.AllocsPerRun(1000, func() {
		p, err := br.Allow()
		if err != nil {
			t.Fatal(err)
		}
		p.Record(levee.Outcome{Result: levee.Ignored}) // gives the slot back
	})
	if allocs != 0 {
		t.Errorf("half-open Allow+ignored Record allocates %v times, want 0", allocs)
	}
}

// countingClock counts the readings taken from it.
type countingClock struct {
	*clocktest.Fake
	reads atomic.Int64
}

func (c *countingClock) Now() time.Time  { c.reads.Add(1); return c.Fake.Now() }
func (c *countingClock) Nanotime() int64 { c.reads.Add(1); return c.Fake.Nanotime() }

// TestClockReads pins how often each closed path reads the clock.
func TestClockReads(t *testing.T) {
	tests := []struct {
		name string
		cfg  breaker.Config
		want int64 // per Allow + Done
	}{
		{"count window", breaker.Config{}, 0},
		{"count window, consecutive failures", breaker.Config{ConsecutiveFailures: 5}, 0},
		{"time window", breaker.Config{WindowDuration: time.Minute}, 1},
		{"slow-call tracking", breaker.Config{SlowCallDuration: time.Second}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &countingClock{Fake: clocktest.New(time.Time{})}
			tt.cfg.Clock = clk
			br := mustNew(t, tt.cfg)
			clk.reads.Store(0)
			for range 100 {
				p, err := br.Allow()
				if err != nil {
					t.Fatal(err)
				}
				p.Done(nil)
			}
			if got := clk.reads.Load(); got != 100*tt.want {
				t.Errorf("100 calls read the clock %d times, want %d", got, 100*tt.want)
			}
		})
	}
}
