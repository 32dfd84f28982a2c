package levee_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
)

func TestRejectionsMatch(t *testing.T) {
	sentinels := []error{levee.ErrOpen, levee.ErrLimited, levee.ErrBulkheadFull, levee.ErrShed, levee.ErrBudgetExhausted}
	for _, s := range sentinels {
		if !errors.Is(s, levee.ErrRejected) {
			t.Errorf("errors.Is(%v, ErrRejected) = false, want true", s)
		}
		wrapped := fmt.Errorf("calling x: %w", levee.Reject(s, time.Second))
		if !errors.Is(wrapped, s) || !errors.Is(wrapped, levee.ErrRejected) {
			t.Errorf("Reject(%v) wrapped does not match its kind and ErrRejected", s)
		}
		for _, o := range sentinels {
			if o != s && errors.Is(s, o) {
				t.Errorf("errors.Is(%v, %v) = true, want false", s, o)
			}
		}
	}
	if errors.Is(levee.ErrTimeout, levee.ErrRejected) {
		t.Error("errors.Is(ErrTimeout, ErrRejected) = true, want false: a timed-out call was started")
	}
	if !errors.Is(levee.ErrTimeout, context.DeadlineExceeded) {
		t.Error("errors.Is(ErrTimeout, context.DeadlineExceeded) = false, want true")
	}
}

func TestRetryAfter(t *testing.T) {
	clk := clocktest.New(time.Time{})
	until := levee.RejectUntil(levee.ErrOpen, clk, clk.Nanotime()+int64(5*time.Second))
	tests := []struct {
		name    string
		err     error
		advance time.Duration
		want    time.Duration
		ok      bool
	}{
		{"nil", nil, 0, 0, false},
		{"plain error", errors.New("x"), 0, 0, false},
		{"sentinel without wait", levee.ErrOpen, 0, 0, false},
		{"fixed wait", levee.Reject(levee.ErrLimited, 1500*time.Millisecond), 0, 1500 * time.Millisecond, true},
		{"fixed wait wrapped", fmt.Errorf("ctx: %w", levee.Reject(levee.ErrLimited, time.Second)), 0, time.Second, true},
		{"deadline, fresh", until, 0, 5 * time.Second, true},
		{"deadline, 2s later", until, 2 * time.Second, 3 * time.Second, true},
		{"deadline, passed", until, 10 * time.Second, 0, true},
		{"negative wait clamps", levee.Reject(levee.ErrShed, -time.Second), 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk.Advance(tt.advance)
			got, ok := levee.RetryAfter(tt.err)
			if got != tt.want || ok != tt.ok {
				t.Errorf("RetryAfter(%v) = %v, %v, want %v, %v", tt.err, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestDefaultClassifier(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want levee.Result
	}{
		{"nil", nil, levee.Success},
		{"error", errors.New("boom"), levee.Failure},
		{"caller cancelled", context.Canceled, levee.Ignored},
		{"caller cancelled wrapped", fmt.Errorf("get: %w", context.Canceled), levee.Ignored},
		{"deadline is a failure", context.DeadlineExceeded, levee.Failure},
		{"levee timeout is a failure", levee.ErrTimeout, levee.Failure},
		{"inner rejection", levee.ErrBulkheadFull, levee.Ignored},
		{"marked ignored", levee.Ignore(errors.New("bad request")), levee.Ignored},
		{"panic", levee.NewPanicError("x"), levee.Failure},
	}
	for _, tt := range tests {
		if got := levee.DefaultClassifier(tt.err); got != tt.want {
			t.Errorf("%s: DefaultClassifier(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
		if got := levee.Classifier(nil).Classify(tt.err); got != tt.want {
			t.Errorf("%s: Classifier(nil).Classify(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
	base := errors.New("not found")
	if ig := levee.Ignore(base); !errors.Is(ig, base) || ig.Error() != base.Error() {
		t.Errorf("Ignore(%v) = %v, lost the original error", base, ig)
	}
	if levee.Ignore(nil) != nil {
		t.Error("Ignore(nil) != nil")
	}
}

func TestListeners(t *testing.T) {
	var l levee.Listeners
	if l.Active() {
		t.Fatal("zero Listeners Active() = true")
	}
	l.Emit(levee.Event{Kind: levee.EventInfo}) // no listener: nothing happens
	var order []string
	r1 := l.Add(func(e levee.Event) { order = append(order, "a:"+e.Reason) })
	l.Add(func(e levee.Event) { order = append(order, "b:"+e.Reason) })
	l.Add(nil)()
	l.Emit(levee.Event{Reason: "1"})
	r1()
	r1() // removing twice is harmless
	l.Emit(levee.Event{Reason: "2"})
	got := fmt.Sprint(order)
	if want := "[a:1 b:1 b:2]"; got != want {
		t.Errorf("listener calls = %s, want %s", got, want)
	}
	if !l.Active() {
		t.Error("Active() = false with one listener left")
	}
}

func TestEventKindString(t *testing.T) {
	seen := map[string]bool{}
	for k := levee.EventStateChange; k <= levee.EventInfo; k++ {
		s := k.String()
		if s == "unknown" || seen[s] {
			t.Errorf("EventKind(%d).String() = %q, want a distinct name", k, s)
		}
		seen[s] = true
	}
	if got := levee.EventKind(0).String(); got != "unknown" {
		t.Errorf("EventKind(0).String() = %q, want unknown", got)
	}
	for r, want := range map[levee.Result]string{levee.Success: "success", levee.Failure: "failure", levee.Ignored: "ignored", 9: "unknown"} {
		if got := r.String(); got != want {
			t.Errorf("Result(%d).String() = %q, want %q", r, got, want)
		}
	}
}

// countingGate admits while open is true and records every outcome.
type countingGate struct {
	stage    levee.Stage
	name     string
	refuse   atomic.Bool
	admitted atomic.Int64
	results  [3]atomic.Int64
	trace    *[]string
}

func (g *countingGate) Stage() levee.Stage { return g.stage }
func (g *countingGate) Acquire(ctx context.Context) (levee.Permit, error) {
	if g.trace != nil {
		*g.trace = append(*g.trace, g.name)
	}
	if g.refuse.Load() {
		return levee.Permit{}, levee.Reject(levee.ErrLimited, time.Second)
	}
	g.admitted.Add(1)
	return levee.NewPermit(g, 7, 0), nil
}
func (g *countingGate) Release(p levee.Permit, o levee.Outcome) {
	if p.Token() != 7 {
		panic("permit token lost")
	}
	g.results[o.Result].Add(1)
}

func TestDoGate(t *testing.T) {
	g := &countingGate{stage: levee.StageBreaker}
	p := levee.New(g)
	ctx := context.Background()

	v, err := levee.Do(ctx, p, func(context.Context) (int, error) { return 42, nil })
	if v != 42 || err != nil {
		t.Fatalf("Do = %v, %v, want 42, nil", v, err)
	}
	boom := errors.New("boom")
	if _, err := levee.Do(ctx, p, func(context.Context) (int, error) { return 0, boom }); err != boom {
		t.Fatalf("Do = _, %v, want boom", err)
	}
	if err := p.Run(ctx, func(context.Context) error { return context.Canceled }); err != context.Canceled {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if s, f, i := g.results[levee.Success].Load(), g.results[levee.Failure].Load(), g.results[levee.Ignored].Load(); s != 1 || f != 1 || i != 1 {
		t.Errorf("recorded success/failure/ignored = %d/%d/%d, want 1/1/1", s, f, i)
	}

	g.refuse.Store(true)
	called := false
	_, err = levee.Do(ctx, p, func(context.Context) (int, error) { called = true; return 1, nil })
	if called || !errors.Is(err, levee.ErrLimited) {
		t.Errorf("refused Do: called = %v, err = %v; want not called, ErrLimited", called, err)
	}
}

func TestDoCustomClassifier(t *testing.T) {
	g := &countingGate{stage: levee.StageBreaker}
	notFound := errors.New("not found")
	p := mustPipeline(t, levee.Config{Classifier: func(err error) levee.Result {
		if errors.Is(err, notFound) {
			return levee.Ignored
		}
		return levee.DefaultClassifier(err)
	}}, g)
	_ = p.Run(context.Background(), func(context.Context) error { return notFound })
	if got := g.results[levee.Ignored].Load(); got != 1 {
		t.Errorf("ignored outcomes = %d, want 1", got)
	}
}

func TestPipelineOrder(t *testing.T) {
	var trace []string
	mk := func(name string, s levee.Stage) *countingGate {
		return &countingGate{stage: s, name: name, trace: &trace}
	}
	a, b, c := mk("limit", levee.StageLimit), mk("breaker", levee.StageBreaker), mk("bulkhead", levee.StageConcurrency)

	_ = levee.New(a, nil, c, b).Run(context.Background(), func(context.Context) error { return nil })
	if got, want := fmt.Sprint(trace), "[breaker limit bulkhead]"; got != want {
		t.Errorf("default order = %s, want %s", got, want)
	}
	trace = nil
	p := mustPipeline(t, levee.Config{KeepOrder: true}, c, a, b)
	_ = p.Run(context.Background(), func(context.Context) error { return nil })
	if got, want := fmt.Sprint(trace), "[bulkhead limit breaker]"; got != want {
		t.Errorf("kept order = %s, want %s", got, want)
	}
	if n := len(p.Policies()); n != 3 {
		t.Errorf("Policies() has %d, want 3", n)
	}
}

// retrier retries failures up to max attempts with a fixed delay.
type retrier struct {
	max      int
	delay    time.Duration
	attempts []levee.Attempt
	waited   []time.Duration
	clk      *clocktest.Fake
	quiet    bool // record nothing, for allocation tests
}

func (r *retrier) Stage() levee.Stage { return levee.StageRetry }
func (r *retrier) Attempted(_ context.Context, a levee.Attempt) levee.RetryDecision {
	if !r.quiet {
		r.attempts = append(r.attempts, a)
	}
	if a.Result != levee.Failure {
		return levee.RetryDecision{}
	}
	if a.N >= r.max {
		return levee.RetryDecision{Err: fmt.Errorf("gave up: %w", a.Err)}
	}
	return levee.RetryDecision{Retry: true, Delay: r.delay}
}
func (r *retrier) Wait(ctx context.Context, d time.Duration) error {
	r.waited = append(r.waited, d)
	if r.clk == nil {
		return ctx.Err()
	}
	t := r.clk.NewTimer(d)
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
}

func TestDoRetry(t *testing.T) {
	g := &countingGate{stage: levee.StageBreaker}
	r := &retrier{max: 3, delay: 10 * time.Millisecond}
	p := levee.New(g, r)
	calls := 0
	v, err := levee.Do(context.Background(), p, func(context.Context) (string, error) {
		calls++
		if calls < 3 {
			return "", errors.New("flaky")
		}
		return "ok", nil
	})
	if v != "ok" || err != nil || calls != 3 {
		t.Fatalf("Do = %q, %v after %d calls, want ok, nil after 3", v, err, calls)
	}
	if len(r.attempts) != 3 || r.attempts[2].Delay != 10*time.Millisecond || r.attempts[0].Delay != 0 {
		t.Errorf("attempts = %+v, want 3 with delays 0, 10ms, 10ms", r.attempts)
	}
	if g.admitted.Load() != 3 {
		t.Errorf("gate inside retry admitted %d, want 3 (one per attempt)", g.admitted.Load())
	}

	r2 := &retrier{max: 2}
	_, err = levee.Do(context.Background(), levee.New(r2), func(context.Context) (int, error) { return 0, errors.New("down") })
	if err == nil || err.Error() != "gave up: down" {
		t.Errorf("Do after exhausting = %v, want the retrier's replacement error", err)
	}
}

func TestDoRetryCancelledMidBackoff(t *testing.T) {
	clk := clocktest.New(time.Time{})
	r := &retrier{max: 5, delay: time.Hour, clk: clk}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- levee.New(r).Run(ctx, func(context.Context) error { return errors.New("down") })
	}()
	clk.BlockUntil(1)
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || err.Error() == "" {
		t.Errorf("Run cancelled mid-backoff = %v, want context.Canceled", err)
	}
}

type scoper struct{ limit time.Duration }

func (s scoper) Stage() levee.Stage { return levee.StageTimeout }
func (s scoper) Enter(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.limit)
}
func (s scoper) Exit(parent, scoped context.Context, err error) error {
	if err != nil && parent.Err() == nil && scoped.Err() == context.DeadlineExceeded {
		return levee.ErrTimeout
	}
	return err
}

func TestDoScope(t *testing.T) {
	p := levee.New(scoper{limit: time.Millisecond})
	err := p.Run(context.Background(), func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if err != levee.ErrTimeout {
		t.Errorf("Run past the scope's deadline = %v, want ErrTimeout", err)
	}
}

type staticFallback[T any] struct{ v T }

func (f staticFallback[T]) Stage() levee.Stage { return levee.StageFallback }
func (f staticFallback[T]) Fallback(_ context.Context, v T, err error) (T, error) {
	if err != nil {
		return f.v, nil
	}
	return v, nil
}

func TestDoFallback(t *testing.T) {
	g := &countingGate{stage: levee.StageBreaker}
	g.refuse.Store(true)
	p := levee.New(staticFallback[string]{"cached"}, g)
	v, err := levee.Do(context.Background(), p, func(context.Context) (string, error) { return "fresh", nil })
	if v != "cached" || err != nil {
		t.Errorf("Do with refused gate = %q, %v, want cached, nil", v, err)
	}
	g.refuse.Store(false)
	v, _ = levee.Do(context.Background(), p, func(context.Context) (string, error) { return "fresh", nil })
	if v != "fresh" {
		t.Errorf("Do with open gate = %q, want fresh", v)
	}
	_, err = levee.Do(context.Background(), p, func(context.Context) (int, error) { return 1, nil })
	if !errors.Is(err, levee.ErrPolicyType) {
		t.Errorf("Do[int] through a string fallback = %v, want ErrPolicyType", err)
	}
}

type twice struct{}

func (twice) Stage() levee.Stage { return levee.StageHedge }
func (twice) Execute(ctx context.Context, next levee.Next) (any, error) {
	if _, err := next.Run(ctx); err == nil {
		return nil, errors.New("first run should fail in this test")
	}
	return next.Run(ctx)
}

func TestDoWrapper(t *testing.T) {
	g := &countingGate{stage: levee.StageBreaker}
	n := 0
	v, err := levee.Do(context.Background(), levee.New(twice{}, g), func(context.Context) (int, error) {
		n++
		if n == 1 {
			return 0, errors.New("first")
		}
		return 99, nil
	})
	if v != 99 || err != nil || g.admitted.Load() != 2 {
		t.Errorf("Do through wrapper = %v, %v with %d admissions, want 99, nil, 2", v, err, g.admitted.Load())
	}
}

func TestDoPanic(t *testing.T) {
	g := &countingGate{stage: levee.StageBreaker}
	r := &retrier{max: 5}
	fb := staticFallback[int]{v: -1}
	var events []levee.Event
	p := mustPipeline(t, levee.Config{Name: "p"}, fb, r, g)
	p.OnEvent(func(e levee.Event) { events = append(events, e) })

	func() {
		defer func() {
			if got := recover(); got != "kaboom" {
				t.Errorf("recovered %v, want the original panic value kaboom", got)
			}
		}()
		_, _ = levee.Do(context.Background(), p, func(context.Context) (int, error) { panic("kaboom") })
		t.Error("Do returned; want the panic re-raised")
	}()
	if got := g.results[levee.Failure].Load(); got != 1 {
		t.Errorf("gate recorded %d failures for the panic, want 1", got)
	}
	if len(r.attempts) != 0 {
		t.Errorf("retrier saw %d attempts of a re-raised panic, want 0", len(r.attempts))
	}
	if len(events) != 1 || events[0].Kind != levee.EventPanic || events[0].Name != "p" {
		t.Fatalf("events = %+v, want one EventPanic named p", events)
	}
	var pe *levee.PanicError
	if !errors.As(events[0].Err, &pe) || len(pe.Stack) == 0 || pe.Value != "kaboom" {
		t.Errorf("panic event Err = %v, want *PanicError with value and stack", events[0].Err)
	}

	ret := mustPipeline(t, levee.Config{ReturnPanics: true}, g)
	_, err := levee.Do(context.Background(), ret, func(context.Context) (int, error) { panic(errors.ErrUnsupported) })
	if !errors.As(err, &pe) || !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Do with ReturnPanics = %v, want *PanicError wrapping the panicked error", err)
	}
	if _, err := levee.Do[int](context.Background(), nil, func(context.Context) (int, error) { return 3, nil }); err != nil {
		t.Errorf("Do with nil pipeline = %v", err)
	}
}

func TestDoGateAllocs(t *testing.T) {
	g1 := &countingGate{stage: levee.StageBreaker}
	g2 := &countingGate{stage: levee.StageLimit}
	p := levee.New(g1, g2, &retrier{max: 3, quiet: true})
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	if n := testing.AllocsPerRun(1000, func() { _, _ = levee.Do(ctx, p, fn) }); n != 0 {
		t.Errorf("Do through gates and a retrier allocates %v per call, want 0", n)
	}
}

func TestPermitZeroValue(t *testing.T) {
	var p levee.Permit
	p.Done(errors.New("x")) // settles to nothing
	p.Record(levee.Outcome{})
	if p.Token() != 0 || p.Start() != 0 {
		t.Error("zero Permit has non-zero token or start")
	}
}

func BenchmarkDoGate(b *testing.B) {
	p := levee.New(&countingGate{stage: levee.StageBreaker})
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = levee.Do(ctx, p, fn)
		}
	})
}

func BenchmarkBare(b *testing.B) {
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		_, _ = fn(ctx)
	}
}

func TestCriticality(t *testing.T) {
	if got := levee.CriticalityFrom(context.Background()); got != levee.Critical {
		t.Errorf("CriticalityFrom(empty) = %v, want CRITICAL", got)
	}
	for _, c := range []levee.Criticality{levee.CriticalPlus, levee.Critical, levee.SheddablePlus, levee.Sheddable} {
		if got := levee.CriticalityFrom(levee.WithCriticality(context.Background(), c)); got != c {
			t.Errorf("CriticalityFrom(WithCriticality(%v)) = %v", c, got)
		}
		if got, ok := levee.ParseCriticality(strings.ToLower(c.String())); !ok || got != c {
			t.Errorf("ParseCriticality(%q) = %v, %v", c.String(), got, ok)
		}
	}
	if _, ok := levee.ParseCriticality("urgent"); ok {
		t.Error(`ParseCriticality("urgent") ok = true`)
	}
	if got, ok := levee.ParseCriticality(" sheddable-plus "); !ok || got != levee.SheddablePlus {
		t.Errorf("ParseCriticality(sheddable-plus) = %v, %v", got, ok)
	}
	if !(levee.Sheddable.Rank() < levee.SheddablePlus.Rank() && levee.SheddablePlus.Rank() < levee.Critical.Rank() && levee.Critical.Rank() < levee.CriticalPlus.Rank()) {
		t.Error("Rank does not order SHEDDABLE < SHEDDABLE_PLUS < CRITICAL < CRITICAL_PLUS")
	}
}

func TestGoRecovers(t *testing.T) {
	got := make(chan *levee.PanicError, 1)
	levee.Go(func() { panic("in goroutine") }, func(pe *levee.PanicError) { got <- pe })
	select {
	case pe := <-got:
		if pe.Value != "in goroutine" || !strings.Contains(string(pe.Stack), "TestGoRecovers") {
			t.Errorf("onPanic got %v with stack lacking the test function", pe.Value)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("onPanic not called")
	}
}

func mustPipeline(t *testing.T, cfg levee.Config, policies ...levee.Policy) *levee.Pipeline {
	t.Helper()
	p, err := levee.NewPipeline(cfg, policies...)
	if err != nil {
		t.Fatalf("NewPipeline: %v", err)
	}
	return p
}

// noProtocol has a Stage and nothing a pipeline can run.
type noProtocol struct{}

func (noProtocol) Stage() levee.Stage { return levee.StageLimit }

// wrongFallback has a Fallback method of the wrong shape.
type wrongFallback struct{}

func (wrongFallback) Stage() levee.Stage                                             { return levee.StageFallback }
func (wrongFallback) Fallback(ctx context.Context, v int, err error) (string, error) { return "", nil }

// TestPipelineValidates checks that a policy no protocol fits is refused
// when the pipeline is built, naming the policy, and that New panics with
// that message.
func TestPipelineValidates(t *testing.T) {
	g := &countingGate{stage: levee.StageBreaker}
	tests := []struct {
		name     string
		policies []levee.Policy
		want     string // in the error; empty: no error
	}{
		{name: "gates and a fallback", policies: []levee.Policy{g, nil, staticFallback[string]{"x"}, &retrier{max: 2}}},
		{name: "no protocol", policies: []levee.Policy{g, nil, noProtocol{}}, want: "policy 2 (levee_test.noProtocol)"},
		{name: "fallback of the wrong shape", policies: []levee.Policy{wrongFallback{}}, want: "policy 0 (levee_test.wrongFallback)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := levee.NewPipeline(levee.Config{}, tt.policies...)
			if tt.want == "" {
				if err != nil || p == nil {
					t.Fatalf("NewPipeline = %v, %v; want a pipeline", p, err)
				}
				return
			}
			if p != nil || !errors.Is(err, levee.ErrPolicyType) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewPipeline = %v, %v; want nil and an ErrPolicyType naming %s", p, err, tt.want)
			}
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), tt.want) {
					t.Errorf("New panicked with %v, want a message naming %s", r, tt.want)
				}
			}()
			levee.New(tt.policies...)
		})
	}
}
