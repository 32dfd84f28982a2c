package chaos_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/chaos"
	"github.com/levee-go/levee/clock/clocktest"
)

var errBoom = errors.New("boom")

func newInjector(t testing.TB, cfg chaos.Config) *chaos.Injector {
	t.Helper()
	in, err := chaos.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	return in
}

func acquireErr(in *chaos.Injector, ctx context.Context) error {
	p, err := in.Acquire(ctx)
	if err == nil {
		p.Done(nil)
	}
	return err
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name    string
		faults  []chaos.Fault
		wantErr string // substring; empty means valid
	}{
		{name: "none"},
		{name: "all kinds", faults: []chaos.Fault{
			chaos.Latency(10, time.Second), chaos.LatencyRange(10, time.Millisecond, time.Second),
			chaos.Error(1, nil), chaos.HTTPStatus(1, 503), chaos.GRPCCode(1, 14), chaos.Panic(1, "x"),
			{Percent: 0.5, Delay: time.Second, Err: errBoom},
		}},
		{name: "percent above 100", faults: []chaos.Fault{chaos.Error(150, nil)}, wantErr: "Faults[0].Percent = 150"},
		{name: "negative percent", faults: []chaos.Fault{chaos.Latency(10, 1), chaos.Error(-1, nil)}, wantErr: "Faults[1].Percent = -1"},
		{name: "NaN percent", faults: []chaos.Fault{chaos.Error(math.NaN(), nil)}, wantErr: "Percent = NaN"},
		{name: "negative delay", faults: []chaos.Fault{chaos.Latency(10, -time.Second)}, wantErr: "Faults[0].Delay = -1s"},
		{name: "range upside down", faults: []chaos.Fault{chaos.LatencyRange(10, time.Second, time.Millisecond)}, wantErr: "Faults[0].DelayMax = 1ms"},
		{name: "error and panic", faults: []chaos.Fault{{Percent: 1, Err: errBoom, Panic: 1}}, wantErr: "both Err and Panic"},
		{name: "HTTP 200", faults: []chaos.Fault{chaos.HTTPStatus(1, 200)}, wantErr: "StatusError.HTTP = 200"},
		{name: "gRPC 17", faults: []chaos.Fault{chaos.GRPCCode(1, 17)}, wantErr: "StatusError.GRPC = 17"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := chaos.New(chaos.Config{Faults: tt.faults})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

// binomialOK reports whether hits out of n is within 5 standard deviations
// of n*p: a correct injector fails this about once in 3.5 million runs.
func binomialOK(hits, n int, p float64) bool {
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	return math.Abs(float64(hits)-mean) <= 5*sd
}

func TestRates(t *testing.T) {
	const n = 20000
	tests := []struct {
		name    string
		percent float64
		seed    uint64
	}{
		{name: "never", percent: 0, seed: 1},
		{name: "always", percent: 100},
		{name: "30% seeded", percent: 30, seed: 42},
		{name: "30% unseeded", percent: 30},
		{name: "0.5% seeded", percent: 0.5, seed: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInjector(t, chaos.Config{Seed: tt.seed, Faults: []chaos.Fault{chaos.Error(tt.percent, errBoom)}})
			hits := 0
			for range n {
				switch err := acquireErr(in, context.Background()); err {
				case nil:
				case errBoom:
					hits++
				default:
					t.Fatalf("Acquire() = %v, want nil or errBoom", err)
				}
			}
			if p := tt.percent / 100; !binomialOK(hits, n, p) {
				t.Errorf("%d calls at %v%%: %d hit, want about %.0f", n, tt.percent, hits, n*p)
			}
		})
	}
}

// TestSeedRepeats: two injectors with the same seed make the same choices,
// call for call; another seed makes other choices.
func TestSeedRepeats(t *testing.T) {
	run := func(seed uint64) string {
		clk := clocktest.New(time.Time{})
		in := newInjector(t, chaos.Config{Seed: seed, Clock: clk, Faults: []chaos.Fault{
			chaos.LatencyRange(50, 0, time.Second),
			chaos.Error(25, errBoom),
		}})
		var b strings.Builder
		in.OnEvent(func(e levee.Event) { b.WriteString(e.Reason + "/" + e.Wait.String() + " ") })
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // delays are recorded by the event, then cut short
		for range 200 {
			_ = acquireErr(in, ctx)
			b.WriteString("|")
		}
		return b.String()
	}
	a, b, c := run(99), run(99), run(100)
	if a != b {
		t.Errorf("two runs with seed 99 differ:\n%s\n%s", a, b)
	}
	if a == c {
		t.Errorf("seeds 99 and 100 made the same 200 choices")
	}
	if !strings.Contains(a, "chaos:delay") || !strings.Contains(a, "chaos:error") {
		t.Errorf("run = %q, want both delays and errors", a)
	}
}

func TestMatch(t *testing.T) {
	type key struct{}
	tests := []struct {
		name  string
		fault chaos.Fault
		ctx   context.Context
		want  error
	}{
		{name: "no match hits all", fault: chaos.Error(100, errBoom), ctx: context.Background(), want: errBoom},
		{name: "tag present", fault: chaos.Error(100, errBoom).When(chaos.MatchTag("canary")),
			ctx: chaos.WithTag(context.Background(), "canary"), want: errBoom},
		{name: "tag absent", fault: chaos.Error(100, errBoom).When(chaos.MatchTag("canary")),
			ctx: chaos.WithTag(context.Background(), "stable"), want: nil},
		{name: "two tags", fault: chaos.Error(100, errBoom).When(chaos.MatchTag("a")).When(chaos.MatchTag("b")),
			ctx: chaos.WithTag(chaos.WithTag(context.Background(), "b"), "a"), want: errBoom},
		{name: "both matches needed", fault: chaos.Error(100, errBoom).When(chaos.MatchTag("a")).When(chaos.MatchTag("b")),
			ctx: chaos.WithTag(context.Background(), "a"), want: nil},
		{name: "value equal", fault: chaos.Error(100, errBoom).When(chaos.MatchValue(key{}, "eu-west")),
			ctx: context.WithValue(context.Background(), key{}, "eu-west"), want: errBoom},
		{name: "value differs", fault: chaos.Error(100, errBoom).When(chaos.MatchValue(key{}, "eu-west")),
			ctx: context.WithValue(context.Background(), key{}, "us-east"), want: nil},
		{name: "uncomparable value", fault: chaos.Error(100, errBoom).When(chaos.MatchValue(key{}, []int{1})),
			ctx: context.WithValue(context.Background(), key{}, []int{1}), want: nil},
		{name: "key present", fault: chaos.Error(100, errBoom).When(chaos.MatchKey(key{})),
			ctx: context.WithValue(context.Background(), key{}, 1), want: errBoom},
		{name: "key absent", fault: chaos.Error(100, errBoom).When(chaos.MatchKey(key{})),
			ctx: context.Background(), want: nil},
		{name: "nil When keeps match", fault: chaos.Error(100, errBoom).When(chaos.MatchKey(key{})).When(nil),
			ctx: context.Background(), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInjector(t, chaos.Config{Faults: []chaos.Fault{tt.fault}})
			if got := acquireErr(in, tt.ctx); got != tt.want {
				t.Errorf("Acquire() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestOrder: delays of every applying fault add up, the first ending wins
// and later faults are not tried.
func TestOrder(t *testing.T) {
	clk := clocktest.New(time.Time{})
	in := newInjector(t, chaos.Config{Clock: clk, Faults: []chaos.Fault{
		chaos.Latency(100, time.Second),
		chaos.Error(0, errors.New("never")),
		{Percent: 100, Delay: 2 * time.Second, Err: errBoom},
		chaos.Panic(100, "not reached"),
	}})
	var reasons []string
	in.OnEvent(func(e levee.Event) { reasons = append(reasons, e.Reason) })
	done := make(chan error, 1)
	go func() { done <- acquireErr(in, context.Background()) }()
	clk.BlockUntil(1)
	clk.Advance(3*time.Second - 1)
	select {
	case err := <-done:
		t.Fatalf("Acquire() = %v before the 3s of delay passed", err)
	default:
	}
	clk.Advance(1)
	if err := <-done; err != errBoom {
		t.Fatalf("Acquire() = %v, want errBoom", err)
	}
	if got, want := strings.Join(reasons, ","), "chaos:delay,chaos:delay,chaos:error"; got != want {
		t.Errorf("event reasons = %s, want %s", got, want)
	}
}

func TestDelay(t *testing.T) {
	clk := clocktest.New(time.Time{})
	in := newInjector(t, chaos.Config{Name: "db", Clock: clk, Faults: []chaos.Fault{chaos.Latency(100, time.Minute)}})
	var events []levee.Event
	in.OnEvent(func(e levee.Event) { events = append(events, e) })
	start := clk.Now()
	done := make(chan error, 1)
	go func() { done <- acquireErr(in, context.Background()) }()
	clk.BlockUntil(1)
	clk.Advance(time.Minute)
	if err := <-done; err != nil {
		t.Fatalf("Acquire() after the delay = %v, want nil", err)
	}
	if len(events) != 1 {
		t.Fatalf("events = %+v, want one", events)
	}
	e := events[0]
	if e.Kind != levee.EventInfo || e.Policy != "chaos" || e.Name != "db" || e.Reason != "chaos:delay" ||
		e.Wait != time.Minute || e.Value != 100 || !e.Time.Equal(start) {
		t.Errorf("event = %+v, want EventInfo chaos/db chaos:delay Wait 1m Value 100 at %v", e, start)
	}
}

func TestDelayRange(t *testing.T) {
	const lo, hi = 10 * time.Millisecond, 20 * time.Millisecond
	in := newInjector(t, chaos.Config{Seed: 3, Clock: clocktest.New(time.Time{}),
		Faults: []chaos.Fault{chaos.LatencyRange(100, lo, hi)}})
	seen := map[time.Duration]bool{}
	in.OnEvent(func(e levee.Event) { seen[e.Wait] = true })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 1000 {
		_ = acquireErr(in, ctx)
	}
	for d := range seen {
		if d < lo || d > hi {
			t.Errorf("injected delay %v, want within [%v, %v]", d, lo, hi)
		}
	}
	if len(seen) < 900 {
		t.Errorf("%d distinct delays in 1000 draws from a 10ms range, want them spread", len(seen))
	}
}

// endingCtx is a context the test ends with a chosen error.
type endingCtx struct {
	context.Context
	done chan struct{}
	mu   sync.Mutex
	err  error
}

func newEndingCtx() *endingCtx {
	return &endingCtx{Context: context.Background(), done: make(chan struct{})}
}

func (c *endingCtx) Done() <-chan struct{} { return c.done }
func (c *endingCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
func (c *endingCtx) end(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	close(c.done)
}

func TestDelayInterrupted(t *testing.T) {
	for _, want := range []error{context.Canceled, context.DeadlineExceeded} {
		t.Run(want.Error(), func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			in := newInjector(t, chaos.Config{Clock: clk, Faults: []chaos.Fault{
				{Percent: 100, Delay: time.Hour, Err: errBoom},
			}})
			ctx := newEndingCtx()
			done := make(chan error, 1)
			go func() { done <- acquireErr(in, ctx) }()
			clk.BlockUntil(1)
			ctx.end(want)
			if err := <-done; err != want {
				t.Fatalf("Acquire() with its context ended = %v, want the context's error %v", err, want)
			}
			if got := clk.Pending(); got != 0 {
				t.Errorf("Pending() = %d after the interrupted delay, want 0 (timer stopped)", got)
			}
		})
	}
}

// spyGate records the outcome the pipeline gives it.
type spyGate struct {
	mu       sync.Mutex
	outcomes []levee.Outcome
}

func (g *spyGate) Stage() levee.Stage { return levee.StageBreaker }
func (g *spyGate) Acquire(context.Context) (levee.Permit, error) {
	return levee.NewPermit(g, 0, 0), nil
}
func (g *spyGate) Release(_ levee.Permit, o levee.Outcome) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.outcomes = append(g.outcomes, o)
}

func TestPanicThroughDo(t *testing.T) {
	t.Run("re-raised", func(t *testing.T) {
		in := newInjector(t, chaos.Config{Faults: []chaos.Fault{chaos.Panic(100, "injected")}})
		spy := &spyGate{}
		p := levee.New(in, spy)
		called := false
		defer func() {
			r := recover()
			if r != "injected" {
				t.Fatalf("recover() = %v, want the injected value", r)
			}
			if called {
				t.Error("the call ran although the injector made it panic")
			}
			if len(spy.outcomes) != 1 || spy.outcomes[0].Result != levee.Failure {
				t.Errorf("outer gate outcomes = %+v, want one failure", spy.outcomes)
			}
		}()
		_, _ = levee.Do(context.Background(), p, func(context.Context) (int, error) { called = true; return 1, nil })
		t.Fatal("Do returned, want the injected panic re-raised")
	})
	t.Run("returned", func(t *testing.T) {
		in := newInjector(t, chaos.Config{Faults: []chaos.Fault{chaos.Panic(100, 42)}})
		var events []levee.Event
		in.OnEvent(func(e levee.Event) { events = append(events, e) })
		p, err := levee.NewPipeline(levee.Config{ReturnPanics: true}, in)
		if err != nil {
			t.Fatal(err)
		}
		_, err = levee.Do(context.Background(), p, func(context.Context) (int, error) { return 1, nil })
		var pe *levee.PanicError
		if !errors.As(err, &pe) || pe.Value != 42 || len(pe.Stack) == 0 {
			t.Fatalf("Do() = %v, want a *levee.PanicError with value 42 and a stack", err)
		}
		if len(events) != 1 || events[0].Reason != "chaos:panic" || events[0].Err != err {
			t.Errorf("events = %+v, want one chaos:panic carrying the error", events)
		}
	})
}

func TestErrorsThroughPipeline(t *testing.T) {
	in := newInjector(t, chaos.Config{Faults: []chaos.Fault{chaos.HTTPStatus(100, 503)}})
	spy := &spyGate{}
	p := levee.New(in, spy)
	_, err := levee.Do(context.Background(), p, func(context.Context) (int, error) { return 1, nil })
	var hs interface{ HTTPStatus() int }
	if !errors.As(err, &hs) || hs.HTTPStatus() != 503 {
		t.Fatalf("Do() = %v, want an error with HTTPStatus() 503", err)
	}
	if len(spy.outcomes) != 1 || spy.outcomes[0].Result != levee.Failure || spy.outcomes[0].Err != err {
		t.Errorf("outer gate outcomes = %+v, want one failure with the injected error", spy.outcomes)
	}
}

func TestSwitch(t *testing.T) {
	in := newInjector(t, chaos.Config{Disabled: true, Faults: []chaos.Fault{chaos.Error(100, errBoom)}})
	p := levee.New(in)
	call := func() error {
		_, err := levee.Do(context.Background(), p, func(context.Context) (int, error) { return 1, nil })
		return err
	}
	steps := []struct {
		name string
		do   func() error
		want error
		on   bool
	}{
		{name: "starts disabled", do: func() error { return nil }, want: nil, on: false},
		{name: "enable", do: func() error { in.Enable(); return nil }, want: errBoom, on: true},
		{name: "set other faults", do: func() error { return in.Set(chaos.Error(100, chaos.ErrInjected)) }, want: chaos.ErrInjected, on: true},
		{name: "invalid set keeps faults", do: func() error {
			if err := in.Set(chaos.Error(101, nil)); err == nil {
				return errors.New("Set(101%) = nil, want an error")
			}
			return nil
		}, want: chaos.ErrInjected, on: true},
		{name: "disable", do: func() error { in.Disable(); return nil }, want: nil, on: false},
		{name: "set while disabled", do: func() error { return in.Set(chaos.Error(100, errBoom)) }, want: nil, on: false},
		{name: "enable again", do: func() error { in.Enable(); return nil }, want: errBoom, on: true},
		{name: "clear", do: func() error { return in.Set() }, want: nil, on: true},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := call(); got != s.want {
			t.Errorf("%s: Do() = %v, want %v", s.name, got, s.want)
		}
		if got := in.Enabled(); got != s.on {
			t.Errorf("%s: Enabled() = %v, want %v", s.name, got, s.on)
		}
	}
	if got := in.Faults(); got != nil {
		t.Errorf("Faults() after Set() = %v, want nil", got)
	}
	_ = in.Set(chaos.Error(5, errBoom))
	f := in.Faults()
	f[0].Percent = 100
	if in.Faults()[0].Percent != 5 {
		t.Error("Faults() returned the injector's own slice, want a copy")
	}
}

// TestSwitchConcurrently flips and replaces faults while calls run; run
// with -race.
func TestSwitchConcurrently(t *testing.T) {
	in := newInjector(t, chaos.Config{Seed: 1, Faults: []chaos.Fault{chaos.Error(50, errBoom)}})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := acquireErr(in, context.Background()); err != nil && err != errBoom && err != chaos.ErrInjected {
					t.Errorf("Acquire() = %v", err)
					return
				}
			}
		})
	}
	for i := range 500 {
		switch i % 4 {
		case 0:
			in.Disable()
		case 1:
			in.Enable()
		case 2:
			_ = in.Set(chaos.Error(10, chaos.ErrInjected))
		case 3:
			_ = in.Set(chaos.Error(90, errBoom))
		}
	}
	close(stop)
	wg.Wait()
}

func TestAllocs(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		cfg  chaos.Config
	}{
		{name: "off", cfg: chaos.Config{Disabled: true, Faults: []chaos.Fault{chaos.Error(100, errBoom)}}},
		{name: "no faults", cfg: chaos.Config{}},
		{name: "on, miss", cfg: chaos.Config{Faults: []chaos.Fault{chaos.Error(0.0001, errBoom).When(chaos.MatchTag("x"))}}},
		{name: "on, error", cfg: chaos.Config{Faults: []chaos.Fault{chaos.Error(100, errBoom)}}},
		{name: "on, seeded", cfg: chaos.Config{Seed: 1, Faults: []chaos.Fault{chaos.Error(50, errBoom)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInjector(t, tt.cfg)
			if got := testing.AllocsPerRun(1000, func() { _ = acquireErr(in, ctx) }); got != 0 {
				t.Errorf("Acquire allocs = %v, want 0", got)
			}
		})
	}
}

func TestStatusError(t *testing.T) {
	tests := []struct {
		err      chaos.StatusError
		wantHTTP int
		wantGRPC uint32
		wantMsg  string
	}{
		{chaos.StatusError{}, 503, 14, "chaos: injected HTTP status 503"},
		{chaos.StatusError{HTTP: 503}, 503, 14, "chaos: injected HTTP status 503"},
		{chaos.StatusError{HTTP: 404}, 404, 5, "chaos: injected HTTP status 404"},
		{chaos.StatusError{HTTP: 429}, 429, 8, "chaos: injected HTTP status 429"},
		{chaos.StatusError{HTTP: 418}, 418, 2, "chaos: injected HTTP status 418"},
		{chaos.StatusError{HTTP: 502}, 502, 14, "chaos: injected HTTP status 502"},
		{chaos.StatusError{GRPC: 4}, 504, 4, "chaos: injected gRPC code 4"},
		{chaos.StatusError{GRPC: 16}, 401, 16, "chaos: injected gRPC code 16"},
		{chaos.StatusError{HTTP: 500, GRPC: 8}, 500, 8, "chaos: injected HTTP status 500, gRPC code 8"},
	}
	for _, tt := range tests {
		if got := tt.err.HTTPStatus(); got != tt.wantHTTP {
			t.Errorf("%+v.HTTPStatus() = %d, want %d", tt.err, got, tt.wantHTTP)
		}
		if got := tt.err.GRPCCode(); got != tt.wantGRPC {
			t.Errorf("%+v.GRPCCode() = %d, want %d", tt.err, got, tt.wantGRPC)
		}
		if got := tt.err.Error(); got != tt.wantMsg {
			t.Errorf("%+v.Error() = %q, want %q", tt.err, got, tt.wantMsg)
		}
	}
}

// FuzzFault: any fault either is refused by New or injects delays within
// its range, without panicking.
func FuzzFault(f *testing.F) {
	f.Add(50.0, int64(0), int64(0), uint64(1), true)
	f.Add(100.0, int64(time.Millisecond), int64(time.Second), uint64(0), false)
	f.Add(100.0, int64(1), int64(math.MaxInt64), uint64(9), true)
	f.Add(-1.0, int64(-5), int64(3), uint64(2), false)
	f.Add(100.0, int64(math.MaxInt64), int64(0), uint64(2), false)
	f.Fuzz(func(t *testing.T, percent float64, delay, delayMax int64, seed uint64, fail bool) {
		fault := chaos.Fault{Percent: percent, Delay: time.Duration(delay), DelayMax: time.Duration(delayMax)}
		if fail {
			fault.Err = errBoom
		}
		in, err := chaos.New(chaos.Config{Seed: seed, Clock: clocktest.New(time.Time{}), Faults: []chaos.Fault{fault}})
		if err != nil {
			return
		}
		in.OnEvent(func(e levee.Event) {
			if e.Reason != "chaos:delay" {
				return
			}
			hi := fault.Delay
			if fault.DelayMax > hi {
				hi = fault.DelayMax
			}
			if e.Wait < fault.Delay || e.Wait > hi {
				t.Errorf("injected delay %v, want within [%v, %v]", e.Wait, fault.Delay, hi)
			}
		})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for range 10 {
			_ = acquireErr(in, ctx)
		}
	})
}

func BenchmarkInjector(b *testing.B) {
	ctx := context.Background()
	cases := []struct {
		name string
		cfg  chaos.Config
	}{
		{name: "Off", cfg: chaos.Config{Disabled: true, Faults: []chaos.Fault{chaos.Error(100, errBoom)}}},
		{name: "OnMiss", cfg: chaos.Config{Faults: []chaos.Fault{chaos.Error(0.001, errBoom)}}},
		{name: "OnMissSeeded", cfg: chaos.Config{Seed: 1, Faults: []chaos.Fault{chaos.Error(0.001, errBoom)}}},
		{name: "OnError", cfg: chaos.Config{Faults: []chaos.Fault{chaos.Error(100, errBoom)}}},
	}
	for _, c := range cases {
		in := newInjector(b, c.cfg)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = in.Acquire(ctx)
			}
		})
		b.Run(c.name+"Parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, _ = in.Acquire(ctx)
				}
			})
		})
	}
}

// TestZeroValues uses the zero value of each exported type: none may panic.
func TestZeroValues(t *testing.T) {
	var in chaos.Injector
	if p, err := in.Acquire(context.Background()); err != nil || p != (levee.Permit{}) {
		t.Errorf("zero Injector.Acquire = %v, %v; want a pass", p, err)
	}
	if in.Enabled() || in.Faults() != nil {
		t.Errorf("zero Injector: enabled %v, faults %v; want off and empty", in.Enabled(), in.Faults())
	}
	var events int
	in.OnEvent(func(levee.Event) { events++ })
	if err := in.Set(chaos.Latency(100, time.Nanosecond), chaos.HTTPStatus(100, 503)); err != nil {
		t.Fatal(err)
	}
	in.Enable()
	if _, err := in.Acquire(context.Background()); levee.StatusOf(err).HTTPStatus() != 503 {
		t.Errorf("enabled zero Injector: %v, want the injected 503", err)
	}
	if events != 2 {
		t.Errorf("%d events, want 2 (delay, abort)", events)
	}
	if in.Stage() != levee.StageChaos {
		t.Errorf("Stage = %v", in.Stage())
	}
	var f chaos.Fault
	if err := in.Set(f); err != nil {
		t.Errorf("Set(zero Fault) = %v", err)
	}
	var se chaos.StatusError
	if se.Error() == "" || se.HTTPStatus() != 503 || se.GRPCCode() != 14 || se.FaultStatus().Code != levee.CodeUnavailable {
		t.Errorf("zero StatusError = %q %d %d %v", se.Error(), se.HTTPStatus(), se.GRPCCode(), se.FaultStatus())
	}
	var cfg chaos.Config
	if _, err := chaos.New(cfg); err != nil {
		t.Errorf("New(zero Config) = %v", err)
	}
}
