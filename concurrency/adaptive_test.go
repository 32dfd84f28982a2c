package concurrency_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/concurrency"
)

// stub is an Algorithm that records the windows it sees and answers with
// next(limit).
type stub struct {
	initial, lo, hi int
	next            func(limit float64) concurrency.Adjustment
	windows         []concurrency.Window
}

func (s *stub) Bounds() (int, int, int) { return s.initial, s.lo, s.hi }

func (s *stub) Update(w concurrency.Window, limit float64) concurrency.Adjustment {
	w.RTTs = append([]time.Duration(nil), w.RTTs...)
	s.windows = append(s.windows, w)
	if s.next == nil {
		return concurrency.Adjustment{Limit: limit}
	}
	return s.next(limit)
}

func newLimiter(t testing.TB, cfg concurrency.LimiterConfig) *concurrency.Limiter {
	t.Helper()
	l, err := concurrency.NewLimiter(cfg)
	if err != nil {
		t.Fatalf("NewLimiter(%+v) = %v", cfg, err)
	}
	return l
}

func TestLimiterAdmitsUpToTheLimit(t *testing.T) {
	l := newLimiter(t, concurrency.LimiterConfig{Algorithm: &stub{initial: 2, lo: 1, hi: 10}, RetryAfter: time.Second})
	ctx := context.Background()
	p1, err1 := l.Acquire(ctx)
	p2, err2 := l.Acquire(ctx)
	if err1 != nil || err2 != nil {
		t.Fatalf("Acquire twice under limit 2 = %v, %v, want nil, nil", err1, err2)
	}
	_, err := l.Acquire(ctx)
	if !errors.Is(err, levee.ErrShed) || !errors.Is(err, levee.ErrRejected) {
		t.Fatalf("third Acquire = %v, want ErrShed", err)
	}
	if wait, ok := levee.RetryAfter(err); !ok || wait != time.Second {
		t.Errorf("RetryAfter(%v) = %v, %v, want 1s, true", err, wait, ok)
	}
	p1.Done(nil)
	if _, err := l.Acquire(ctx); err != nil {
		t.Errorf("Acquire after a release = %v, want nil", err)
	}
	p2.Done(nil)
	if got := l.InFlight(); got != 1 {
		t.Errorf("InFlight() = %d, want 1", got)
	}
}

// runWindow admits a call per outcome at once, advances the clock by rtt,
// settles all but the last, steps past the window and settles the last,
// which closes the window: each runWindow is one window.
func runWindow(t *testing.T, l *concurrency.Limiter, clk *clocktest.Fake, rtt time.Duration, os ...levee.Outcome) {
	t.Helper()
	ps := make([]levee.Permit, len(os))
	for i := range ps {
		p, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatalf("Acquire %d of %d = %v (limit %d)", i+1, len(os), err, l.Limit())
		}
		ps[i] = p
	}
	clk.Advance(rtt)
	for i, p := range ps[:len(ps)-1] {
		p.Record(os[i])
	}
	clk.Advance(time.Second)
	ps[len(ps)-1].Record(os[len(os)-1])
}

func same(n int, o levee.Outcome) []levee.Outcome {
	os := make([]levee.Outcome, n)
	for i := range os {
		os[i] = o
	}
	return os
}

func TestLimiterWindows(t *testing.T) {
	clk := clocktest.New(time.Time{})
	alg := &stub{initial: 10, lo: 1, hi: 100}
	l := newLimiter(t, concurrency.LimiterConfig{Algorithm: alg, Clock: clk, MinSamples: 3})

	// Too few samples: the window stays open past its time, and closes
	// with the sample that brings it to MinSamples.
	p, _ := l.Acquire(context.Background())
	clk.Advance(time.Second)
	p.Done(nil)
	if len(alg.windows) != 0 {
		t.Fatalf("windows after one sample = %d, want 0 (MinSamples 3)", len(alg.windows))
	}
	p1, _ := l.Acquire(context.Background())
	p2, _ := l.Acquire(context.Background())
	clk.Advance(20 * ms)
	p1.Done(nil)
	p2.Done(nil)
	if len(alg.windows) != 1 {
		t.Fatalf("windows = %d, want 1", len(alg.windows))
	}
	w := alg.windows[0]
	if w.Samples != 3 || w.Drops != 0 || w.MinRTT != 20*ms || w.MaxRTT != time.Second || w.MaxInFlight != 2 {
		t.Errorf("window = %+v, want 3 samples, no drop, rtt 20ms..1s (from the clock), max in flight 2", w)
	}
	// Outcome latencies win over the clock; ignored outcomes teach nothing;
	// a time-out is a drop even when classified a success.
	runWindow(t, l, clk, 0,
		levee.Outcome{Result: levee.Success, Latency: 3 * ms},
		levee.Outcome{Result: levee.Ignored},
		levee.Outcome{Result: levee.Success, Latency: 5 * ms, Err: levee.ErrTimeout},
		levee.Outcome{Result: levee.Failure, Latency: 4 * ms})
	if len(alg.windows) != 2 {
		t.Fatalf("windows = %d, want 2", len(alg.windows))
	}
	w = alg.windows[1]
	if w.Samples != 3 || w.Drops != 2 || w.MinRTT != 3*ms || w.MaxRTT != 5*ms || w.AvgRTT != 4*ms || w.MaxInFlight != 4 {
		t.Errorf("window = %+v, want 3 samples, 2 drops, rtt 3ms..5ms avg 4ms, max in flight 4", w)
	}
	if got := w.Quantile(0.5); got != 4*ms {
		t.Errorf("window Quantile(0.5) = %v, want 4ms", got)
	}
}

func TestLimiterAppLimitedBoundsAndEvents(t *testing.T) {
	clk := clocktest.New(time.Time{})
	var next concurrency.Adjustment
	alg := &stub{initial: 10, lo: 2, hi: 40, next: func(float64) concurrency.Adjustment { return next }}
	l := newLimiter(t, concurrency.LimiterConfig{Name: "db", Algorithm: alg, Clock: clk, MinSamples: 1})
	var events []levee.Event
	l.OnEvent(func(e levee.Event) { events = append(events, e) })

	steps := []struct {
		name     string
		inflight int
		next     concurrency.Adjustment
		want     int
	}{
		{"demand below half: no growth", 4, concurrency.Adjustment{Limit: 15}, 10},
		{"demand at half: growth", 5, concurrency.Adjustment{Limit: 15.7, Reason: "up"}, 15},
		{"shrinking needs no demand", 1, concurrency.Adjustment{Limit: 12, Reason: "down"}, 12},
		{"pinned limits pass the app-limited rule", 1, concurrency.Adjustment{Limit: 20, Pin: true, Reason: "pin"}, 20},
		{"above the max", 20, concurrency.Adjustment{Limit: 1000, Reason: "max"}, 40},
		{"below the min", 1, concurrency.Adjustment{Limit: -3, Reason: "min"}, 2},
	}
	for _, s := range steps {
		next = s.next
		runWindow(t, l, clk, ms, same(s.inflight, levee.Outcome{})...)
		if got := l.Limit(); got != s.want {
			t.Fatalf("%s: Limit() = %d, want %d", s.name, got, s.want)
		}
	}
	want := []struct {
		from, to float64
		reason   string
	}{{10, 15, "up"}, {15, 12, "down"}, {12, 20, "pin"}, {20, 40, "max"}, {40, 2, "min"}}
	if len(events) != len(want) {
		t.Fatalf("events = %+v, want %d limit changes", events, len(want))
	}
	for i, w := range want {
		e := events[i]
		if e.Kind != levee.EventLimitChange || e.Policy != "adaptive" || e.Name != "db" || e.Threshold != w.from || e.Value != w.to || e.Reason != w.reason {
			t.Errorf("event %d = %+v, want limit change %v -> %v (%s)", i, e, w.from, w.to, w.reason)
		}
	}
}

func TestLimiterLearnsWithAIMD(t *testing.T) {
	clk := clocktest.New(time.Time{})
	a, _ := concurrency.NewAIMD(concurrency.AIMDConfig{InitialLimit: 10, MinLimit: 1})
	l := newLimiter(t, concurrency.LimiterConfig{Algorithm: a, Clock: clk})
	clk.Advance(time.Second)
	runWindow(t, l, clk, 5*ms, same(10, levee.Outcome{Result: levee.Success})...)
	if got := l.Limit(); got != 11 {
		t.Fatalf("Limit() after a busy window = %d, want 11", got)
	}
	clk.Advance(time.Second)
	runWindow(t, l, clk, 5*ms, same(10, levee.Outcome{Result: levee.Failure})...)
	if got := l.Limit(); got != 9 {
		t.Fatalf("Limit() after a window with drops = %d, want 9 (11·0.9)", got)
	}
}

func TestLimiterQueueOrder(t *testing.T) {
	for _, lifo := range []bool{false, true} {
		name := "fifo"
		if lifo {
			name = "lifo"
		}
		t.Run(name, func(t *testing.T) {
			l := newLimiter(t, concurrency.LimiterConfig{Algorithm: &stub{initial: 1, lo: 1, hi: 1}, MaxQueue: 3, LIFO: lifo})
			first, err := l.Acquire(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			order := make(chan int, 3)
			for i := range 3 {
				go func() {
					p, err := l.Acquire(context.Background())
					if err != nil {
						t.Errorf("queued Acquire = %v", err)
						return
					}
					order <- i
					p.Done(nil)
				}()
				eventually(t, "waiter queued", func() bool { return l.Queued() == i+1 })
			}
			if _, err := l.Acquire(context.Background()); !errors.Is(err, levee.ErrShed) {
				t.Errorf("Acquire with the queue full = %v, want ErrShed", err)
			}
			first.Done(nil)
			want := []int{0, 1, 2}
			if lifo {
				want = []int{2, 1, 0}
			}
			for _, w := range want {
				if got := <-order; got != w {
					t.Fatalf("served waiter %d, want %d (order %v)", got, w, want)
				}
			}
		})
	}
}

func TestLimiterQueueTimeoutAndCancel(t *testing.T) {
	clk := clocktest.New(time.Time{})
	l := newLimiter(t, concurrency.LimiterConfig{Algorithm: &stub{initial: 1, lo: 1, hi: 1}, MaxQueue: 2, MaxWait: 50 * ms, Clock: clk})
	hold, _ := l.Acquire(context.Background())
	defer hold.Done(nil)

	timedOut := make(chan error, 1)
	go func() { _, err := l.Acquire(context.Background()); timedOut <- err }()
	clk.BlockUntil(1)
	clk.Advance(50 * ms)
	if err := <-timedOut; !errors.Is(err, levee.ErrShed) {
		t.Errorf("Acquire after MaxWait = %v, want ErrShed", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error, 1)
	go func() { _, err := l.Acquire(ctx); cancelled <- err }()
	clk.BlockUntil(1)
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire with its context cancelled = %v, want context.Canceled", err)
	}
	if got := l.Queued(); got != 0 {
		t.Errorf("Queued() = %d, want 0", got)
	}
}

func TestLimiterGrowthAdmitsWaiters(t *testing.T) {
	clk := clocktest.New(time.Time{})
	next := 1.0
	alg := &stub{initial: 1, lo: 1, hi: 5, next: func(float64) concurrency.Adjustment { return concurrency.Adjustment{Limit: next, Pin: true} }}
	l := newLimiter(t, concurrency.LimiterConfig{Algorithm: alg, MaxQueue: 4, Clock: clk, MinSamples: 1})
	hold, _ := l.Acquire(context.Background())
	got := make(chan levee.Permit, 2)
	for range 2 {
		go func() {
			p, err := l.Acquire(context.Background())
			if err == nil {
				got <- p
			}
		}()
	}
	eventually(t, "two waiters", func() bool { return l.Queued() == 2 })
	next = 3
	clk.Advance(time.Second)
	hold.Done(nil) // closes the window: the limit becomes 3
	p1, p2 := <-got, <-got
	if l.InFlight() != 2 || l.Limit() != 3 {
		t.Errorf("InFlight() = %d, Limit() = %d, want 2, 3", l.InFlight(), l.Limit())
	}
	p1.Done(nil)
	p2.Done(nil)
}

func TestLimiterConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  concurrency.LimiterConfig
	}{
		{"negative min window", concurrency.LimiterConfig{MinWindow: -1}},
		{"negative max window", concurrency.LimiterConfig{MaxWindow: -1}},
		{"max window below min", concurrency.LimiterConfig{MinWindow: time.Second, MaxWindow: ms}},
		{"negative min samples", concurrency.LimiterConfig{MinSamples: -1}},
		{"negative queue", concurrency.LimiterConfig{MaxQueue: -1}},
		{"negative wait", concurrency.LimiterConfig{MaxQueue: 1, MaxWait: -1}},
		{"wait without queue", concurrency.LimiterConfig{MaxWait: time.Second}},
		{"negative retry-after", concurrency.LimiterConfig{RetryAfter: -1}},
		{"bad algorithm bounds", concurrency.LimiterConfig{Algorithm: &stub{initial: 5, lo: 6, hi: 10}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := concurrency.NewLimiter(tt.cfg); err == nil {
				t.Errorf("NewLimiter(%+v) = nil error, want one", tt.cfg)
			}
		})
	}
	l, err := concurrency.NewLimiter(concurrency.LimiterConfig{})
	if err != nil || l.Limit() != 20 {
		t.Errorf("NewLimiter(zero) = limit %v, %v; want Gradient2's 20, nil", l.Limit(), err)
	}
}

func TestLimiterAllocs(t *testing.T) {
	clk := clocktest.New(time.Time{})
	l := newLimiter(t, concurrency.LimiterConfig{Algorithm: &stub{initial: 10, lo: 1, hi: 10}, Clock: clk})
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		p, err := l.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p.Record(levee.Outcome{Result: levee.Success})
	})
	if allocs != 0 {
		t.Errorf("Acquire+Record allocs = %v, want 0", allocs)
	}
	for range 10 {
		_, _ = l.Acquire(ctx)
	}
	if allocs := testing.AllocsPerRun(1000, func() { _, _ = l.Acquire(ctx) }); allocs != 0 {
		t.Errorf("refused Acquire allocs = %v, want 0", allocs)
	}
}

// Under real concurrency the limit holds, and every slot comes back.
func TestLimiterConcurrent(t *testing.T) {
	for _, queue := range []int{0, 8} {
		a, _ := concurrency.NewAIMD(concurrency.AIMDConfig{InitialLimit: 4, MinLimit: 2, MaxLimit: 8})
		l := newLimiter(t, concurrency.LimiterConfig{Algorithm: a, MaxQueue: queue, MaxWait: time.Duration(queue) * ms, LIFO: queue > 0, MinWindow: ms, MaxWindow: ms})
		var running, peak atomic.Int64
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 200 {
					p, err := l.Acquire(context.Background())
					if err != nil {
						continue
					}
					n := running.Add(1)
					for {
						m := peak.Load()
						if n <= m || peak.CompareAndSwap(m, n) {
							break
						}
					}
					running.Add(-1)
					if (g+i)%7 == 0 {
						p.Done(errors.New("boom"))
					} else {
						p.Done(nil)
					}
				}
			}()
		}
		wg.Wait()
		if l.InFlight() != 0 || l.Queued() != 0 {
			t.Errorf("queue %d: InFlight() = %d, Queued() = %d after all calls, want 0, 0", queue, l.InFlight(), l.Queued())
		}
		if peak.Load() > 8 {
			t.Errorf("queue %d: peak concurrency = %d, want <= MaxLimit 8", queue, peak.Load())
		}
	}
}

func BenchmarkLimiterAcquire(b *testing.B) {
	l := newLimiter(b, concurrency.LimiterConfig{Algorithm: &stub{initial: 1 << 20, lo: 1, hi: 1 << 20}})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p, _ := l.Acquire(ctx)
		p.Done(nil)
	}
}

func BenchmarkLimiterAcquireParallel(b *testing.B) {
	g, _ := concurrency.NewGradient2(concurrency.Gradient2Config{})
	l := newLimiter(b, concurrency.LimiterConfig{Algorithm: g})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, err := l.Acquire(ctx)
			if err == nil {
				p.Done(nil)
			}
		}
	})
}
