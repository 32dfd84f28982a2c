package conformance

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/clock/clocktest"
)

// Gate describes a [levee.Gate] to [TestGate].
type Gate struct {
	// New returns a fresh gate, built on clk, that admits a call on an
	// idle moment and is not turned into refusing by a few dozen failures
	// (a breaker needs a high threshold). Required; called once per check.
	New func(clk clock.Clock) levee.Gate

	// Replenishes says that settling a permit gives back what Acquire took,
	// so the gate admits any number of calls made one after another: true
	// for bulkheads and injectors, false for a rate limiter on a clock that
	// does not move. The suite then checks that no check leaks capacity:
	// after cancelled waits, panics and concurrent load the gate still
	// admits.
	Replenishes bool

	// ZeroAllocs says that admitting and settling cost no heap allocation,
	// directly and through [levee.Do].
	ZeroAllocs bool

	// ZeroAllocRefusals says that a refusal in the state Refuse sets costs
	// no heap allocation, directly and through [levee.Do].
	ZeroAllocRefusals bool

	// Block, when set, puts g in a state in which the next Acquire waits,
	// and returns how long that wait lasts on the clock (zero: until
	// unblock or the context ends) and a function that ends the state. Set
	// it for gates that can wait (a bulkhead with a queue, an injected
	// delay); the suite checks that the wait honours cancellation and, when
	// timed, runs on the gate's clock.
	Block func(g levee.Gate) (wait time.Duration, unblock func())

	// WaitErr is what Acquire returns when the timed wait of Block runs
	// out: nil for an admission, or an error it must match with errors.Is.
	WaitErr error

	// Refuse, when set, puts g in a state in which it refuses every call (an
	// open breaker, a drained rate limiter, a full bulkhead without a
	// queue) and returns how long the state lasts on the clock (zero: until
	// something else ends it) and the error every refusal must match with
	// errors.Is (besides [levee.ErrRejected]; nil: that alone). The
	// suite checks that refusals come at once and match, that levee.Do
	// returns them without making the call, under concurrent load too, with
	// no allocation when ZeroAllocRefusals is set, that a Retry-After a refusal
	// carries is no longer than the state lasts, and, when it is timed, that
	// the state ends when the gate's clock has moved that long and not
	// before.
	Refuse func(g levee.Gate) (lasts time.Duration, want error)

	// Failures, when set, returns how many failures g has recorded, so the
	// suite can check that a panic in the call counts as one.
	Failures func(g levee.Gate) int

	// Guard bounds, on the real clock, how long the suite waits for what
	// should happen at once. Zero means [DefaultGuard].
	Guard time.Duration
}

// TestGate runs the conformance checks every gate must pass: admission and
// settling (alone and under concurrent load), settling once ([SettleOnce]),
// cancellation, clock use,
// panics passing through [levee.Do] and recorded as failures, allocations,
// goroutine leaks, and the checks of [TestPolicy] in a pipeline.
// Call it from the gate package's own test, not in parallel with other
// tests (the leak check counts goroutines):
//
//	func TestConformance(t *testing.T) {
//		conformance.TestGate(t, conformance.Gate{New: ..., ZeroAllocs: true})
//	}
func TestGate(t *testing.T, c Gate) { RunGate(std{t}, c) }

// RunGate is [TestGate] for any [T].
func RunGate(t T, c Gate) {
	t.Helper()
	if c.New == nil {
		t.Fatalf("conformance.Gate.New is nil")
	}
	guard := guardOf(c.Guard)
	baseline := goroutines()
	t.Run("admit", func(t T) { gateAdmit(t, c, guard) })
	t.Run("concurrent", func(t T) { gateConcurrent(t, c, guard) })
	t.Run("cancellation", func(t T) { gateCancel(t, c, guard) })
	if c.Block != nil {
		t.Run("clock", func(t T) { gateClock(t, c, guard) })
	}
	t.Run("panics", func(t T) { gatePanics(t, c, guard) })
	if c.ZeroAllocs {
		t.Run("allocations", func(t T) { gateAllocs(t, c, guard) })
	}
	if c.Refuse != nil {
		t.Run("refusing", func(t T) { gateRefuse(t, c, guard) })
	}
	t.Run("settle once", func(t T) { settleOnce(t, c.New, c.Failures, guard) })
	t.Run("pipeline", func(t T) {
		RunPolicy(t, Policy{
			New:        func(clk clock.Clock) levee.Policy { return c.New(clk) },
			ZeroAllocs: c.ZeroAllocs,
			Guard:      c.Guard,
		})
	})
	checkLeaks(t, baseline, guard)
}

func newGate(t T, c Gate) (levee.Gate, *clocktest.Fake) {
	t.Helper()
	clk := clocktest.New(time.Time{})
	g := c.New(clk)
	if g == nil {
		t.Fatalf("New returned a nil gate")
	}
	return g, clk
}

// acquire calls g.Acquire within guard.
func acquire(t T, g levee.Gate, ctx context.Context, guard time.Duration) (p levee.Permit, err error) {
	t.Helper()
	if !within(guard, func() { p, err = g.Acquire(ctx) }) {
		t.Fatalf("Acquire did not return within %v", guard)
	}
	return p, err
}

// admitted fails t unless g admits a call now, and settles it.
func admitted(t T, g levee.Gate, guard time.Duration, after string) {
	t.Helper()
	p, err := acquire(t, g, context.Background(), guard)
	if err != nil {
		t.Fatalf("Acquire after %s = %v, want admission (capacity leaked?)", after, err)
	}
	p.Done(nil)
}

// okAcquireErr reports whether err is an acceptable answer of Acquire: an
// admission, a rejection, or the context's error.
func okAcquireErr(err error, ctx context.Context) bool {
	return err == nil || errors.Is(err, levee.ErrRejected) || (ctx.Err() != nil && errors.Is(err, ctx.Err()))
}

func gateAdmit(t T, c Gate, guard time.Duration) {
	g, _ := newGate(t, c)
	if g.Stage() <= 0 {
		t.Errorf("Stage() = %d, want a positive stage", g.Stage())
	}
	n := 1
	if c.Replenishes {
		n = 1000
	}
	for i := range n {
		p, err := acquire(t, g, context.Background(), guard)
		if err != nil {
			t.Fatalf("Acquire() #%d = %v, want admission", i+1, err)
		}
		// Settle in every way a caller may.
		switch i % 4 {
		case 0:
			p.Done(nil)
		case 1:
			p.Done(errCall)
		case 2:
			p.Record(levee.Outcome{Result: levee.Ignored, Err: context.Canceled})
		default:
			p.Record(levee.Outcome{Result: levee.Success, Latency: time.Millisecond})
		}
	}
}

func gateConcurrent(t T, c Gate, guard time.Duration) {
	g, _ := newGate(t, c)
	const workers, calls = 8, 250
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	ctx := context.Background()
	ok := within(guard, func() {
		for range workers {
			wg.Go(func() {
				for i := range calls {
					p, err := g.Acquire(ctx)
					if err != nil {
						if !okAcquireErr(err, ctx) {
							errs <- err
							return
						}
						continue
					}
					if i%2 == 0 {
						p.Done(nil)
					} else {
						p.Done(errCall)
					}
				}
			})
		}
		wg.Wait()
	})
	if !ok {
		t.Fatalf("%d goroutines making %d calls each did not finish within %v", workers, calls, guard)
	}
	close(errs)
	for err := range errs {
		t.Errorf("Acquire() under load = %v, want admission or a rejection matching levee.ErrRejected", err)
	}
	if c.Replenishes {
		admitted(t, g, guard, "concurrent load")
	}
}

func gateCancel(t T, c Gate, guard time.Duration) {
	t.Run("cancelled before", func(t T) {
		g, _ := newGate(t, c)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		p, err := acquire(t, g, ctx, guard)
		if err == nil {
			p.Done(nil)
		} else if !okAcquireErr(err, ctx) {
			t.Errorf("Acquire(cancelled) = %v, want admission, a rejection or context.Canceled", err)
		}
		if c.Block == nil {
			return
		}
		_, unblock := c.Block(g)
		p, err = acquire(t, g, ctx, guard)
		unblock()
		if err == nil {
			p.Done(nil)
			t.Errorf("Acquire(cancelled) on a blocked gate = admission, want context.Canceled or a rejection")
		} else if !okAcquireErr(err, ctx) {
			t.Errorf("Acquire(cancelled) on a blocked gate = %v, want context.Canceled or a rejection", err)
		}
	})
	if c.Block == nil {
		return
	}
	t.Run("cancelled while waiting", func(t T) {
		g, clk := newGate(t, c)
		pending := clk.Pending()
		wait, unblock := c.Block(g)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		type result struct {
			p   levee.Permit
			err error
		}
		res := make(chan result, 1)
		go func() {
			p, err := g.Acquire(ctx)
			res <- result{p, err}
		}()
		if wait > 0 {
			if !blockUntil(clk, pending+1, guard) {
				unblock()
				t.Fatalf("no timer started on the gate's clock for a %v wait", wait)
			}
		} else {
			// Give the call a moment to start waiting; if it has not,
			// it must still see the cancelled context.
			within(5*time.Millisecond, func() { time.Sleep(time.Millisecond) })
		}
		cancel()
		var r result
		select {
		case r = <-res:
		case <-time.After(guard):
			unblock()
			t.Fatalf("Acquire did not return within %v of its context being cancelled", guard)
		}
		if r.err == nil {
			r.p.Done(nil)
			t.Errorf("Acquire cancelled while waiting = admission, want context.Canceled")
		} else if !errors.Is(r.err, context.Canceled) {
			t.Errorf("Acquire cancelled while waiting = %v, want context.Canceled", r.err)
		}
		unblock()
		if c.Replenishes {
			admitted(t, g, guard, "a cancelled wait")
		}
	})
}

func gateClock(t T, c Gate, guard time.Duration) {
	g, clk := newGate(t, c)
	pending := clk.Pending()
	wait, unblock := c.Block(g)
	defer unblock()
	if wait <= 0 {
		return // untimed waits do not use the clock
	}
	type result struct {
		p   levee.Permit
		err error
	}
	res := make(chan result, 1)
	go func() {
		p, err := g.Acquire(context.Background())
		res <- result{p, err}
	}()
	if !blockUntil(clk, pending+1, guard) {
		t.Fatalf("no timer started on the gate's clock for a %v wait: does it wait on the real clock?", wait)
	}
	if wait > time.Nanosecond {
		clk.Advance(wait - time.Nanosecond)
		select {
		case r := <-res:
			if r.err == nil {
				r.p.Done(nil)
			}
			t.Fatalf("Acquire returned %v before its %v wait ran out on the clock", r.err, wait)
		default:
		}
	}
	clk.Advance(time.Nanosecond)
	var r result
	select {
	case r = <-res:
	case <-time.After(guard):
		t.Fatalf("Acquire did not return once its %v wait ran out on the gate's clock", wait)
	}
	switch {
	case c.WaitErr == nil && r.err != nil:
		t.Errorf("Acquire after the wait = %v, want admission", r.err)
	case c.WaitErr != nil && !errors.Is(r.err, c.WaitErr):
		t.Errorf("Acquire after the wait = %v, want %v", r.err, c.WaitErr)
	}
	if r.err == nil {
		r.p.Done(nil)
	}
}

// spyGate wraps a gate and records the outcomes the pipeline settles its
// permits with, passing them on.
type spyGate struct {
	g        levee.Gate
	mu       sync.Mutex
	next     uint64
	inner    map[uint64]levee.Permit
	outcomes []levee.Outcome
	doubles  int
}

func newSpy(g levee.Gate) *spyGate { return &spyGate{g: g, inner: map[uint64]levee.Permit{}} }

func (s *spyGate) Stage() levee.Stage { return s.g.Stage() }

func (s *spyGate) Acquire(ctx context.Context) (levee.Permit, error) {
	p, err := s.g.Acquire(ctx)
	if err != nil {
		return levee.Permit{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	s.inner[s.next] = p
	return levee.NewPermit(s, s.next, p.Start()), nil
}

func (s *spyGate) Release(p levee.Permit, o levee.Outcome) {
	s.mu.Lock()
	inner, ok := s.inner[p.Token()]
	delete(s.inner, p.Token())
	if ok {
		s.outcomes = append(s.outcomes, o)
	} else {
		s.doubles++
	}
	s.mu.Unlock()
	if ok {
		inner.Record(o)
	}
}

func (s *spyGate) check(t T, want int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.doubles > 0 {
		t.Errorf("%d permits settled more than once", s.doubles)
	}
	if len(s.inner) > 0 {
		t.Errorf("%d admitted calls never settled their permits", len(s.inner))
	}
	if len(s.outcomes) != want {
		t.Errorf("gate settled %d times, want %d", len(s.outcomes), want)
	}
	for _, o := range s.outcomes {
		var pe *levee.PanicError
		if o.Result != levee.Failure || !errors.As(o.Err, &pe) {
			t.Errorf("gate settled with %+v, want a failure carrying a *levee.PanicError", o)
		}
	}
}

// errPanic is a panic value that is an error, as http.ErrAbortHandler is.
var errPanic = errors.New("conformance: panic value")

func gatePanics(t T, c Gate, guard time.Duration) {
	g, _ := newGate(t, c)
	failures := func() int {
		if c.Failures == nil {
			return 0
		}
		return c.Failures(g)
	}
	spy := newSpy(g)
	before := failures()
	panicking := func(context.Context) (int, error) { panic("conformance: boom") }

	t.Run("re-raised", func(t T) {
		p := levee.New(spy)
		var v any
		var panicked bool
		if !within(guard, func() {
			v, panicked = catch(func() { _, _ = levee.Do(context.Background(), p, panicking) })
		}) {
			t.Fatalf("Do with a panicking call did not return within %v", guard)
		}
		if !panicked || v != "conformance: boom" {
			t.Errorf("Do with a panicking call: recovered %v (panicked %v), want the call's own panic value", v, panicked)
		}
	})
	t.Run("returned", func(t T) {
		p, err := levee.NewPipeline(levee.Config{ReturnPanics: true}, spy)
		if err != nil {
			t.Fatalf("NewPipeline: %v", err)
		}
		if !within(guard, func() {
			_, err = levee.Do(context.Background(), p, func(context.Context) (int, error) { panic(errPanic) })
		}) {
			t.Fatalf("Do with a panicking call did not return within %v", guard)
		}
		var pe *levee.PanicError
		if !errors.As(err, &pe) || pe.Value != errPanic || !errors.Is(err, errPanic) {
			t.Errorf("Do with ReturnPanics = %v, want a *levee.PanicError of the panic value", err)
		}
	})
	spy.check(t, 2)
	if c.Failures != nil {
		if got := failures() - before; got != 2 {
			t.Errorf("gate recorded %d failures for 2 panicking calls, want 2", got)
		}
	}
	if c.Replenishes {
		admitted(t, g, guard, "panicking calls")
	}
}

func gateAllocs(t T, c Gate, guard time.Duration) {
	g, _ := newGate(t, c)
	pl := levee.New(g)
	ctx := context.Background()
	var failed error
	tests := []struct {
		name string
		f    func()
	}{
		{"Acquire+Done(nil)", func() {
			p, err := g.Acquire(ctx)
			if err != nil {
				failed = err
				return
			}
			p.Done(nil)
		}},
		{"Acquire+Record(failure)", func() {
			p, err := g.Acquire(ctx)
			if err != nil {
				failed = err
				return
			}
			p.Record(levee.Outcome{Result: levee.Failure, Latency: time.Millisecond, Err: errCall})
		}},
		{"levee.Do", func() {
			if _, err := levee.Do(ctx, pl, succeed); err != nil {
				failed = err
			}
		}},
	}
	for _, tt := range tests {
		var got float64
		if !within(guard, func() { got = testing.AllocsPerRun(200, tt.f) }) {
			t.Fatalf("%s: 200 calls did not return within %v (capacity leaked?)", tt.name, guard)
		}
		if failed != nil {
			t.Fatalf("%s: %v, want admission", tt.name, failed)
		}
		if got != 0 {
			t.Errorf("allocations: %s = %v allocs, want 0", tt.name, got)
		}
	}
}

func gateRefuse(t T, c Gate, guard time.Duration) {
	g, clk := newGate(t, c)
	lasts, want := c.Refuse(g)
	refused := func(what string, err error) bool {
		t.Helper()
		if err == nil || !errors.Is(err, levee.ErrRejected) || (want != nil && !errors.Is(err, want)) {
			t.Errorf("%s on a refusing gate = %v, want a rejection matching levee.ErrRejected and %v", what, err, want)
			return false
		}
		return true
	}
	ctx := context.Background()

	p, err := acquire(t, g, ctx, guard)
	if err == nil {
		p.Done(nil)
	}
	if refused("Acquire()", err) {
		if wait, ok := levee.RetryAfter(err); ok && lasts > 0 && (wait <= 0 || wait > lasts) {
			t.Errorf("levee.RetryAfter(%v) = %v, want a wait in (0, %v]: the refusal lasts %v on the clock", err, wait, lasts, lasts)
		}
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if p, err := acquire(t, g, cctx, guard); err == nil {
		p.Done(nil)
		t.Errorf("Acquire(cancelled) on a refusing gate = admission, want a rejection or context.Canceled")
	} else if !okAcquireErr(err, cctx) {
		t.Errorf("Acquire(cancelled) on a refusing gate = %v, want a rejection or context.Canceled", err)
	}

	pl := levee.New(g)
	var calls int
	counted := func(context.Context) (int, error) { calls++; return 7, nil }
	if !within(guard, func() { _, err = levee.Do(ctx, pl, counted) }) {
		t.Fatalf("Do on a refusing gate did not return within %v", guard)
	}
	refused("Do()", err)
	if calls != 0 {
		t.Errorf("Do on a refusing gate made %d calls, want 0", calls)
	}

	const workers, each = 8, 250
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []error
	if !within(guard, func() {
		for range workers {
			wg.Go(func() {
				for range each {
					p, err := g.Acquire(ctx)
					if err == nil {
						p.Done(nil)
					}
					if err == nil || !errors.Is(err, levee.ErrRejected) || (want != nil && !errors.Is(err, want)) {
						mu.Lock()
						bad = append(bad, err)
						mu.Unlock()
						return
					}
				}
			})
		}
		wg.Wait()
	}) {
		t.Fatalf("%d goroutines making %d refused calls each did not finish within %v", workers, each, guard)
	}
	for _, err := range bad {
		t.Errorf("Acquire() under load on a refusing gate = %v, want a rejection matching levee.ErrRejected and %v", err, want)
	}

	if c.ZeroAllocRefusals {
		var admitted bool
		tests := []struct {
			name string
			f    func()
		}{
			{"Acquire refused", func() {
				if p, err := g.Acquire(ctx); err == nil {
					p.Done(nil)
					admitted = true
				}
			}},
			{"levee.Do refused", func() {
				if _, err := levee.Do(ctx, pl, succeed); err == nil {
					admitted = true
				}
			}},
		}
		for _, tt := range tests {
			var got float64
			if !within(guard, func() { got = testing.AllocsPerRun(200, tt.f) }) {
				t.Fatalf("%s: 200 calls did not return within %v", tt.name, guard)
			}
			if admitted {
				t.Fatalf("%s: a call was admitted, want every call refused", tt.name)
			}
			if got != 0 {
				t.Errorf("allocations: %s = %v allocs, want 0", tt.name, got)
			}
		}
	}

	if lasts <= 0 {
		return
	}
	if lasts > time.Nanosecond {
		clk.Advance(lasts - time.Nanosecond)
		p, err := acquire(t, g, ctx, guard)
		if err == nil {
			p.Done(nil)
			t.Fatalf("Acquire() = admission %v before the refusal's %v ran out on the clock", lasts-time.Nanosecond, lasts)
		}
		refused("Acquire() before the refusal ran out", err)
		clk.Advance(time.Nanosecond)
	} else {
		clk.Advance(lasts)
	}
	p, err = acquire(t, g, ctx, guard)
	if err != nil {
		t.Errorf("Acquire() once the refusal's %v ran out on the gate's clock = %v, want admission: does it read the real clock?", lasts, err)
		return
	}
	p.Done(nil)
}

func succeed(context.Context) (int, error) { return 7, nil }

var (
	_ levee.Gate     = (*spyGate)(nil)
	_ levee.Releaser = (*spyGate)(nil)
)
