package breaker_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/clock/clocktest"
)

// model is a naive closed-state breaker: it keeps every call and recounts
// the window from scratch.
type model struct {
	cfg    breaker.Config
	width  time.Duration // time window bucket width, or 0 for a count window
	calls  []modelCall
	consec int
}

type modelCall struct {
	at         time.Duration
	fail, slow bool
}

func (m *model) window(now time.Duration) (calls, fails, slows int) {
	for i, c := range m.calls {
		in := false
		if m.width > 0 {
			e, ce := now/m.width, c.at/m.width
			in = ce > e-time.Duration(m.cfg.WindowBuckets) && ce <= e
		} else {
			in = i >= len(m.calls)-m.cfg.WindowSize
		}
		if in {
			calls++
			if c.fail {
				fails++
			}
			if c.slow {
				slows++
			}
		}
	}
	return
}

// record adds a call and returns the trip reason, or "".
func (m *model) record(now time.Duration, fail, slow bool) string {
	m.calls = append(m.calls, modelCall{now, fail, slow})
	if fail {
		m.consec++
		if m.cfg.ConsecutiveFailures > 0 && m.consec >= m.cfg.ConsecutiveFailures {
			return breaker.ReasonConsecutiveFailures
		}
	} else {
		m.consec = 0
	}
	calls, fails, slows := m.window(now)
	if calls < m.cfg.MinCalls || calls == 0 {
		return ""
	}
	if m.cfg.FailureRate > 0 && 100*float64(fails)/float64(calls) >= m.cfg.FailureRate {
		return breaker.ReasonFailureRate
	}
	if m.cfg.SlowCallRate > 0 && 100*float64(slows)/float64(calls) >= m.cfg.SlowCallRate {
		return breaker.ReasonSlowCallRate
	}
	return ""
}

// TestTripMatchesModel plays random call sequences against random
// configurations and checks, call by call, that the breaker trips exactly
// when the naive model does, for the same reason, with the same counts.
func TestTripMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	trips := map[string]int{}
	for round := range 200 {
		cfg := breaker.Config{
			FailureRate:      float64(10 + rng.IntN(91)),
			SlowCallDuration: time.Second,
			SlowCallRate:     float64(10 + rng.IntN(91)),
		}
		var width time.Duration
		if rng.IntN(2) == 0 {
			cfg.WindowSize = 1 + rng.IntN(30)
			cfg.MinCalls = 1 + rng.IntN(cfg.WindowSize)
		} else {
			cfg.WindowBuckets = 1 + rng.IntN(10)
			width = time.Duration(1+rng.IntN(5)) * time.Second
			cfg.WindowDuration = width * time.Duration(cfg.WindowBuckets)
			cfg.MinCalls = 1 + rng.IntN(30)
		}
		if rng.IntN(2) == 0 {
			cfg.ConsecutiveFailures = 1 + rng.IntN(8)
		}
		pFail, pSlow := rng.Float64()*0.6, rng.Float64()*0.6
		name := fmt.Sprintf("round %d %+v", round, cfg)

		b, clk := newBreaker(t, cfg)
		start := clk.Now()
		m := &model{cfg: cfg, width: width}
		for step := range 400 {
			if width > 0 {
				clk.Advance(time.Duration(rng.Int64N(int64(width))))
			}
			p, err := b.Allow()
			if err != nil {
				t.Fatalf("%s step %d: Allow() = %v while closed", name, step, err)
			}
			if rng.IntN(10) == 0 {
				p.Record(levee.Outcome{Result: levee.Ignored})
				continue
			}
			fail, slow := rng.Float64() < pFail, rng.Float64() < pSlow
			o := levee.Outcome{Result: levee.Success, Latency: 500 * time.Millisecond}
			if fail {
				o.Result, o.Err = levee.Failure, errBoom
			}
			if slow {
				o.Latency = 2 * time.Second
			}
			now := clk.Now().Sub(start)
			p.Record(o)
			want := m.record(now, fail, slow)
			s := b.Snapshot()
			if want == "" {
				if s.State != breaker.Closed {
					t.Fatalf("%s step %d: State() = %v (%+v), model stays closed", name, step, s.State, s.LastTrip)
				}
				if c, f, sl := m.window(now); s.Calls != int64(c) || s.Failures != int64(f) || s.SlowCalls != int64(sl) {
					t.Fatalf("%s step %d: Snapshot() counts %d/%d/%d, model %d/%d/%d", name, step, s.Calls, s.Failures, s.SlowCalls, c, f, sl)
				}
				continue
			}
			if s.State != breaker.Open || s.LastTrip.Reason != want {
				t.Fatalf("%s step %d: State() = %v (%q), model trips (%q)", name, step, s.State, s.LastTrip.Reason, want)
			}
			trips[want]++
			b.Reset()
			m = &model{cfg: cfg, width: width}
		}
	}
	for _, reason := range []string{breaker.ReasonFailureRate, breaker.ReasonSlowCallRate, breaker.ReasonConsecutiveFailures} {
		if trips[reason] < 10 {
			t.Errorf("only %d trips for %s; the sequences do not exercise it", trips[reason], reason)
		}
	}
	t.Logf("trips: %v", trips)
}

// TestConcurrentStress hammers one breaker from many goroutines while the
// clock moves it through its states; run with -race. Every permit must be
// settled without panics, and the breaker must end in a valid state.
func TestConcurrentStress(t *testing.T) {
	for _, cfg := range []breaker.Config{
		{WindowSize: 50, MinCalls: 10, ConsecutiveFailures: 5, OpenWait: time.Second, HalfOpenProbes: 3, RecoveryRamp: time.Second},
		{WindowDuration: 10 * time.Second, MinCalls: 10, FailureRate: 20, SlowCallDuration: time.Second, OpenWait: time.Second, OpenWaitMultiplier: 2, OpenWaitJitter: 0.5},
		{Adaptive: true, WindowSize: 100},
	} {
		b, clk := newBreaker(t, cfg)
		var transitions sync.Map
		b.OnEvent(func(e levee.Event) {
			if e.Kind == levee.EventStateChange {
				transitions.Store(e.From+">"+e.To, true)
				_ = b.Snapshot()
			}
		})
		stop := make(chan struct{})
		var ops atomic.Int64
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(g), 3))
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					ops.Add(1)
					if i%16 == 0 {
						runtime.Gosched() // leave the clock-driving goroutine its turn
					}
					p, err := b.Allow()
					if err != nil {
						continue
					}
					switch rng.IntN(4) {
					case 0:
						p.Done(errBoom)
					case 1:
						p.Record(levee.Outcome{Result: levee.Ignored})
					default:
						p.Record(levee.Outcome{Result: levee.Success, Latency: time.Duration(rng.IntN(2)) * time.Second})
					}
				}
			})
		}
		for i := range 100 {
			clk.Advance(100 * time.Millisecond)
			if i == 100 {
				b.ForceOpen()
				b.Reset()
			}
			// Let the callers make some calls in each step.
			for target := ops.Load() + 100; ops.Load() < target; {
				runtime.Gosched()
			}
		}
		close(stop)
		wg.Wait()
		if s := b.State(); s > breaker.HalfOpen {
			t.Errorf("State() = %v after the stress, want an automatic state", s)
		}
		if !cfg.Adaptive {
			if _, ok := transitions.Load("closed>open"); !ok {
				t.Errorf("%+v: never tripped under a 33%% failure rate", cfg)
			}
		}
	}
}

// FuzzNew checks that New refuses or accepts any configuration without
// panicking, and that an accepted breaker runs calls.
func FuzzNew(f *testing.F) {
	f.Add(100, int64(0), 10, 20, 50.0, int64(0), 0.0, 0, int64(5e9), 0.0, int64(0), 0.0, 3, int64(0), false, 2.0)
	f.Add(-1, int64(-1), -1, -1, 150.0, int64(-1), 101.0, -1, int64(-1), 0.5, int64(-1), 2.0, -1, int64(-1), true, 0.5)
	f.Add(5, int64(1e9), 3, 6, -1.0, int64(1e8), 80.0, 3, int64(1e6), 3.0, int64(1e7), 1.0, 6, int64(1e9), false, 0.0)
	f.Add(0, int64(7), 10, 0, 0.0, int64(0), 0.0, 0, int64(0), 0.0, int64(0), 0.0, 0, int64(0), true, 1.0)
	f.Fuzz(func(t *testing.T, size int, dur int64, buckets, minCalls int, fr float64, slowDur int64, sr float64,
		consec int, wait int64, mult float64, waitMax int64, jitter float64, probes int, ramp int64, adaptive bool, k float64) {
		clk := clocktest.New(time.Time{})
		cfg := breaker.Config{Clock: clk, WindowSize: size, WindowDuration: time.Duration(dur), WindowBuckets: buckets,
			MinCalls: minCalls, FailureRate: fr, SlowCallDuration: time.Duration(slowDur), SlowCallRate: sr,
			ConsecutiveFailures: consec, OpenWait: time.Duration(wait), OpenWaitMultiplier: mult,
			OpenWaitMax: time.Duration(waitMax), OpenWaitJitter: jitter, HalfOpenProbes: probes,
			RecoveryRamp: time.Duration(ramp), Adaptive: adaptive, AdaptiveK: k}
		if cfg.WindowSize > 1<<16 || cfg.WindowBuckets > 1<<12 {
			return // valid but slow to allocate over and over
		}
		b, err := breaker.New(cfg)
		if err != nil {
			if _, ok := err.(*breaker.ConfigError); !ok || b != nil {
				t.Fatalf("New(%+v) = %v, %v, want nil and a *ConfigError", cfg, b, err)
			}
			return
		}
		for i := range 50 {
			if p, err := b.Allow(); err == nil {
				if i%3 == 0 {
					p.Done(errBoom)
				} else {
					p.Done(nil)
				}
			}
			clk.Advance(time.Duration(i) * time.Millisecond * 100)
		}
		_ = b.Snapshot()
	})
}

func TestHugeWaits(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{ConsecutiveFailures: 1, HalfOpenProbes: 1, OpenWait: math.MaxInt64 / 4,
		OpenWaitMultiplier: 1e300, OpenWaitJitter: 1})
	for i := range 3 {
		clk.Advance(time.Duration(math.MaxInt64 / 8))
		p, err := b.Allow()
		if err != nil {
			if i == 0 {
				t.Fatalf("Allow() = %v on a new breaker", err)
			}
			break
		}
		p.Done(errBoom)
		if ra, _ := levee.RetryAfter(mustReject(t, b)); ra <= 0 {
			t.Fatalf("trip %d: RetryAfter = %v, want a positive wait", i+1, ra)
		}
	}
}

func mustReject(t *testing.T, b *breaker.Breaker) error {
	t.Helper()
	_, err := b.Allow()
	if err == nil {
		t.Fatal("Allow() admitted a call while open")
	}
	return err
}
