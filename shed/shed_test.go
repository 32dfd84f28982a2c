package shed_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/shed"
)

const ms = time.Millisecond

// fakeCPU is a CPU source a test sets.
type fakeCPU struct{ v atomic.Uint64 }

func (c *fakeCPU) set(v float64)  { c.v.Store(uint64(v * 1e6)) }
func (c *fakeCPU) Usage() float64 { return float64(c.v.Load()) / 1e6 }

func newShedder(t testing.TB, cfg shed.Config) *shed.Shedder {
	t.Helper()
	s, err := shed.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	return s
}

func withCrit(c levee.Criticality) context.Context {
	return levee.WithCriticality(context.Background(), c)
}

// train completes calls so that the window's best bucket passed 20 calls
// at an average of 10ms: an estimate of 20·10ms/100ms = 2 in flight. It
// leaves the clock at the start of a fresh bucket.
func train(t *testing.T, s *shed.Shedder, clk *clocktest.Fake) {
	t.Helper()
	complete := func(n int, rt time.Duration) {
		for range n {
			p, err := s.AcquireCriticality(context.Background(), levee.CriticalPlus)
			if err != nil {
				t.Fatalf("Acquire while training = %v", err)
			}
			p.Record(levee.Outcome{Result: levee.Success, Latency: rt})
		}
	}
	complete(10, 20*ms)
	clk.Advance(100 * ms)
	complete(20, 10*ms)
	clk.Advance(100 * ms)
}

func TestShedderEstimate(t *testing.T) {
	clk := clocktest.New(time.Time{})
	s := newShedder(t, shed.Config{Window: time.Second, Buckets: 10, Gain: 1, Clock: clk})
	if st := s.Stat(); st.MaxInFlight != -1 {
		t.Fatalf("Stat() with no data = %+v, want MaxInFlight -1", st)
	}
	train(t, s, clk)
	st := s.Stat()
	if st.MaxPass != 20 || st.MinRT != 10*ms || st.MaxInFlight != 2 {
		t.Errorf("Stat() = %+v, want MaxPass 20, MinRT 10ms, MaxInFlight 2", st)
	}
	// A nearly empty bucket of fast calls does not collapse the estimate.
	for range 2 {
		p, _ := s.AcquireCriticality(context.Background(), levee.CriticalPlus)
		p.Record(levee.Outcome{Result: levee.Success, Latency: ms})
	}
	clk.Advance(100 * ms)
	if st := s.Stat(); st.MinRT != 10*ms || st.MaxInFlight != 2 {
		t.Errorf("Stat() after a bucket of 2 fast calls = %+v, want MinRT 10ms, MaxInFlight 2", st)
	}
	g := newShedder(t, shed.Config{Window: time.Second, Buckets: 10, Clock: clk})
	train(t, g, clk)
	if st := g.Stat(); st.MaxInFlight != 3 {
		t.Errorf("Stat() with the default gain = %+v, want MaxInFlight 3 (1.25 x 2, rounded)", st)
	}
	// Buckets older than the window drop out.
	clk.Advance(2 * time.Second)
	if st := s.Stat(); st.MaxInFlight != -1 {
		t.Errorf("Stat() after the window passed = %+v, want MaxInFlight -1", st)
	}
}

func TestShedderKeepsInFlightWithinTheEstimate(t *testing.T) {
	clk := clocktest.New(time.Time{})
	s := newShedder(t, shed.Config{Window: time.Second, Buckets: 10, Gain: 1, Clock: clk})
	train(t, s, clk)
	ctx := context.Background() // CRITICAL, the only level in use
	var running []levee.Permit
	for i := range 3 {
		p, err := s.Acquire(ctx)
		if err != nil {
			t.Fatalf("Acquire %d with in flight %d <= estimate 2 = %v", i+1, i, err)
		}
		running = append(running, p)
	}
	_, err := s.Acquire(ctx)
	if !errors.Is(err, levee.ErrShed) || !errors.Is(err, levee.ErrRejected) {
		t.Fatalf("Acquire with 3 in flight over estimate 2 = %v, want ErrShed", err)
	}
	if wait, ok := levee.RetryAfter(err); !ok || wait != time.Second {
		t.Errorf("RetryAfter = %v, %v, want the 1s cool-off", wait, ok)
	}
	running[0].Done(nil)
	if _, err := s.Acquire(ctx); err != nil {
		t.Errorf("Acquire after a release = %v, want nil", err)
	}
}

func TestShedderCPUEngagement(t *testing.T) {
	clk := clocktest.New(time.Time{})
	cpu := &fakeCPU{}
	s := newShedder(t, shed.Config{Window: time.Second, Buckets: 10, Gain: 1, Clock: clk, CPU: cpu, CPUThreshold: 0.8, CoolOff: 500 * ms})
	train(t, s, clk)
	ctx := context.Background()
	for range 5 {
		if _, err := s.Acquire(ctx); err != nil {
			t.Fatalf("Acquire with the CPU idle = %v, want nil (not engaged)", err)
		}
	}
	steps := []struct {
		name    string
		cpu     float64
		advance time.Duration
		shed    bool
	}{
		{"CPU at the threshold engages", 0.8, 0, true},
		{"CPU falls: still engaged in the cool-off", 0.3, 400 * ms, true},
		{"cool-off counts from the last rejection", 0.3, 400 * ms, true},
		{"cool-off over", 0.3, 600 * ms, false},
	}
	for _, st := range steps {
		cpu.set(st.cpu)
		clk.Advance(st.advance)
		p, err := s.Acquire(ctx)
		if got := errors.Is(err, levee.ErrShed); got != st.shed {
			t.Fatalf("%s: Acquire = %v, want shed %v", st.name, err, st.shed)
		}
		if err == nil {
			p.Record(levee.Outcome{Result: levee.Ignored})
		}
	}
}

func TestShedderCriticalityOrder(t *testing.T) {
	clk := clocktest.New(time.Time{})
	s := newShedder(t, shed.Config{Window: time.Second, Buckets: 10, Gain: 1, Clock: clk, CoolOff: 500 * ms})
	var changes []string
	s.OnEvent(func(e levee.Event) {
		if e.Kind == levee.EventStateChange {
			changes = append(changes, e.From+">"+e.To)
		}
	})
	train(t, s, clk)
	var held []levee.Permit
	acquire := func(c levee.Criticality) error {
		p, err := s.AcquireCriticality(context.Background(), c)
		if err == nil {
			held = append(held, p)
		}
		return err
	}
	step := func(name string, c levee.Criticality, shed bool) {
		t.Helper()
		if err := acquire(c); errors.Is(err, levee.ErrShed) != shed {
			t.Fatalf("%s: Acquire(%v) = %v, want shed %v (%+v)", name, c, err, shed, s.Stat())
		}
	}
	// Three CRITICAL in flight, estimate 2: over it.
	for range 3 {
		step("CRITICAL under the estimate", levee.Critical, false)
	}
	step("SHEDDABLE is shed first", levee.Sheddable, true)
	step("CRITICAL fits in the headroom; SHEDDABLE is now shed outright", levee.Critical, false)
	step("SHEDDABLE refused by level", levee.Sheddable, true)
	// CRITICAL fills the headroom: admitted while at most 4·2 = 8 run.
	for acquire(levee.Critical) == nil {
	}
	if st := s.Stat(); st.InFlight != 9 || st.Level != 1 {
		t.Errorf("Stat() with CRITICAL refused = %+v, want InFlight 9 (headroom 4 x estimate 2, +1), Level 1", st)
	}
	step("SHEDDABLE_PLUS, the level being shed, over the estimate", levee.SheddablePlus, true)
	step("CRITICAL over the headroom while SHEDDABLE_PLUS is shed", levee.Critical, true)
	if st := s.Stat(); st.Level != 2 {
		t.Errorf("Level after CRITICAL met overload while SHEDDABLE_PLUS was shed = %d, want 2", st.Level)
	}
	step("SHEDDABLE_PLUS refused by level", levee.SheddablePlus, true)
	step("CRITICAL_PLUS is spared", levee.CriticalPlus, false)

	// Load goes: each cool-off without overload lowers the level by one.
	for _, p := range held {
		p.Record(levee.Outcome{Result: levee.Ignored})
	}
	held = nil
	clk.Advance(600 * ms)
	step("CRITICAL after the load went", levee.Critical, false)
	clk.Advance(600 * ms)
	step("SHEDDABLE after two cool-offs", levee.Sheddable, false)
	want := []string{"SHEDDABLE>SHEDDABLE_PLUS", "SHEDDABLE_PLUS>CRITICAL", "CRITICAL>SHEDDABLE_PLUS", "SHEDDABLE_PLUS>SHEDDABLE"}
	if len(changes) != len(want) {
		t.Fatalf("level changes = %v, want %v", changes, want)
	}
	for i := range want {
		if changes[i] != want[i] {
			t.Errorf("level changes = %v, want %v", changes, want)
			break
		}
	}
}

// Whatever the load, a shedder that refuses a level refuses every lower
// one at that moment.
func TestShedderNeverInvertsCriticality(t *testing.T) {
	for _, spare := range []bool{false, true} {
		clk := clocktest.New(time.Time{})
		s := newShedder(t, shed.Config{Window: time.Second, Buckets: 10, Gain: 1, Clock: clk, CoolOff: 300 * ms, ShedCriticalPlus: !spare})
		rng := rand.New(rand.NewPCG(1, 2))
		levels := []levee.Criticality{levee.CriticalPlus, levee.Critical, levee.SheddablePlus, levee.Sheddable}
		var running []levee.Permit
		for step := range 5000 {
			switch r := rng.IntN(10); {
			case r < 5:
				if p, err := s.AcquireCriticality(context.Background(), levels[rng.IntN(4)]); err == nil {
					running = append(running, p)
				}
			case r < 8 && len(running) > 0:
				i := rng.IntN(len(running))
				running[i].Record(levee.Outcome{Result: levee.Success, Latency: time.Duration(1+rng.IntN(20)) * ms})
				running = append(running[:i], running[i+1:]...)
			default:
				clk.Advance(time.Duration(rng.IntN(30)) * ms)
			}
			// Probe from the most critical down.
			refused := false
			for _, c := range levels {
				p, err := s.AcquireCriticality(context.Background(), c)
				if err == nil {
					p.Record(levee.Outcome{Result: levee.Ignored})
					if refused {
						t.Fatalf("step %d: %v admitted after a more critical level was refused (%+v)", step, c, s.Stat())
					}
					continue
				}
				refused = true
			}
		}
	}
}

func TestShedderConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  shed.Config
	}{
		{"negative window", shed.Config{Window: -1}},
		{"negative buckets", shed.Config{Buckets: -1}},
		{"buckets under 1ms", shed.Config{Window: 10 * ms, Buckets: 100}},
		{"threshold above one", shed.Config{CPUThreshold: 1.5}},
		{"negative threshold", shed.Config{CPUThreshold: -0.1}},
		{"negative cool-off", shed.Config{CoolOff: -1}},
		{"headroom below one", shed.Config{Headroom: 0.5}},
		{"negative retry-after", shed.Config{RetryAfter: -1}},
		{"gain below one", shed.Config{Gain: 0.9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := shed.New(tt.cfg); err == nil {
				t.Errorf("New(%+v) = nil error, want one", tt.cfg)
			}
		})
	}
}

func TestShedderAllocs(t *testing.T) {
	clk := clocktest.New(time.Time{})
	s := newShedder(t, shed.Config{Clock: clk, CPU: &fakeCPU{}})
	ctx := withCrit(levee.Sheddable)
	if allocs := testing.AllocsPerRun(1000, func() {
		p, err := s.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p.Record(levee.Outcome{Result: levee.Success})
	}); allocs != 0 {
		t.Errorf("Acquire+Record allocs = %v, want 0", allocs)
	}
}

func TestShedderConcurrent(t *testing.T) {
	s := newShedder(t, shed.Config{Window: 100 * ms, Buckets: 10})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := withCrit(levee.Sheddable + levee.Criticality(g%4))
			for range 2000 {
				if p, err := s.Acquire(ctx); err == nil {
					p.Done(nil)
				}
			}
		}()
	}
	wg.Wait()
	if got := s.Stat().InFlight; got != 0 {
		t.Errorf("InFlight after all calls = %d, want 0", got)
	}
}

func BenchmarkShedderAcquire(b *testing.B) {
	s := newShedder(b, shed.Config{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p, _ := s.Acquire(ctx)
		p.Done(nil)
	}
}

func BenchmarkShedderAcquireParallel(b *testing.B) {
	s := newShedder(b, shed.Config{})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if p, err := s.Acquire(ctx); err == nil {
				p.Done(nil)
			}
		}
	})
}
