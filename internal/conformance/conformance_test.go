package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/internal/conformance"
	"github.com/levee-go/levee/internal/settle"
)

// fakeT runs the suite and collects its failures instead of failing the
// test, so that the suite's own tests can see which checks it fails.
type fakeT struct {
	path   string
	mu     *sync.Mutex
	fails  *[]string
	failed bool
}

func newFakeT() *fakeT { return &fakeT{mu: new(sync.Mutex), fails: new([]string)} }

func (t *fakeT) Helper()             {}
func (t *fakeT) Logf(string, ...any) {}
func (t *fakeT) Errorf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed = true
	*t.fails = append(*t.fails, t.path+": "+fmt.Sprintf(format, args...))
}
func (t *fakeT) Fatalf(format string, args ...any) {
	t.Errorf(format, args...)
	runtime.Goexit()
}
func (t *fakeT) Run(name string, f func(conformance.T)) bool {
	sub := &fakeT{path: t.path + "/" + name, mu: t.mu, fails: t.fails}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(sub)
	}()
	<-done
	return !sub.failed
}

// run runs f on a fake T and returns the failures it reported.
func run(f func(conformance.T)) []string {
	t := newFakeT()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(t)
	}()
	<-done
	return *t.fails
}

// bugs a semGate can have on purpose.
type bugs struct {
	ignoreCtx      bool // a waiting Acquire ignores its context
	realClock      bool // timed waits run on the real clock
	keepOnFailure  bool // a failed call does not give its slot back
	allocate       bool // every admission allocates
	spawn          bool // every admission starts a goroutine that never ends
	plainErrorFull bool // a full gate returns an error that is no rejection
	allocRefusal   bool // every refusal allocates its error
	plainRefusal   bool // a refusing gate returns an error that is no rejection
	realRefusal    bool // the refusal ends on the real clock
	admitRefusing  bool // a refusing gate still admits one call in ten
	settleTwice    bool // every settle frees a slot, whether or not the permit holds one
}

var (
	sink    atomic.Pointer[int]
	forever = make(chan struct{}) // what spawned goroutines wait on
)

// semGate is a small correct gate (a semaphore with a timed wait) unless
// told to misbehave.
type semGate struct {
	slots chan struct{}
	wait  time.Duration // 0: wait until ctx ends
	clk   clock.Clock
	bugs  bugs

	permits settle.Table

	refusing   atomic.Bool
	until      atomic.Int64 // nanotime (or real UnixNano) the refusal ends; 0: never
	refusals   atomic.Int64
	refusalErr error
}

func newSemGate(clk clock.Clock, n int, wait time.Duration, b bugs) *semGate {
	return &semGate{slots: make(chan struct{}, n), wait: wait, clk: clk, bugs: b}
}

func (g *semGate) Stage() levee.Stage { return levee.StageConcurrency }

func (g *semGate) Acquire(ctx context.Context) (levee.Permit, error) {
	if err := g.refusal(); err != nil {
		return levee.Permit{}, err
	}
	select {
	case g.slots <- struct{}{}:
		return g.admit(), nil
	default:
	}
	var timeout <-chan time.Time
	if g.wait > 0 {
		if g.bugs.realClock {
			t := time.NewTimer(g.wait)
			defer t.Stop()
			timeout = t.C
		} else {
			t := g.clk.NewTimer(g.wait)
			defer t.Stop()
			timeout = t.C()
		}
	}
	done := ctx.Done()
	if g.bugs.ignoreCtx {
		done = nil
	}
	select {
	case g.slots <- struct{}{}:
		return g.admit(), nil
	case <-done:
		return levee.Permit{}, ctx.Err()
	case <-timeout:
		if g.bugs.plainErrorFull {
			return levee.Permit{}, errors.New("busy")
		}
		return levee.Permit{}, levee.ErrBulkheadFull
	}
}

// refuse makes the gate refuse every call for lasts on its clock (zero:
// for ever), and returns what the refusals match.
func (g *semGate) refuse(lasts time.Duration) (time.Duration, error) {
	if lasts > 0 {
		if g.bugs.realRefusal {
			g.until.Store(time.Now().Add(lasts).UnixNano())
		} else {
			g.until.Store(g.clk.Nanotime() + int64(lasts))
		}
	}
	g.refusalErr = levee.Reject(levee.ErrShed, lasts)
	g.refusing.Store(true)
	return lasts, levee.ErrShed
}

func (g *semGate) refusal() error {
	if !g.refusing.Load() {
		return nil
	}
	if u := g.until.Load(); u > 0 {
		now := g.clk.Nanotime()
		if g.bugs.realRefusal {
			now = time.Now().UnixNano()
		}
		if now >= u {
			return nil
		}
	}
	if g.bugs.admitRefusing && g.refusals.Add(1)%10 == 0 {
		return nil
	}
	switch {
	case g.bugs.plainRefusal:
		return errors.New("closed")
	case g.bugs.allocRefusal:
		return levee.Reject(levee.ErrShed, 0)
	}
	return g.refusalErr
}

func (g *semGate) admit() levee.Permit {
	if g.bugs.allocate {
		sink.Store(new(int))
	}
	if g.bugs.spawn {
		go func() { <-forever }()
	}
	return levee.NewPermit(g, g.permits.Claim(0, int64(cap(g.slots))), 0)
}

func (g *semGate) Release(p levee.Permit, o levee.Outcome) {
	if _, ok := g.permits.Settle(p.Token()); !ok && !g.bugs.settleTwice {
		return
	}
	if g.bugs.keepOnFailure && o.Result == levee.Failure {
		return
	}
	select {
	case <-g.slots:
	default: // nothing held: only a gate that settles twice gets here
	}
}

// block fills every slot and returns a function that frees them.
func (g *semGate) block() (time.Duration, func()) {
	var ps []levee.Permit
	for len(g.slots) < cap(g.slots) {
		p, err := g.Acquire(context.Background())
		if err != nil {
			panic(err)
		}
		ps = append(ps, p)
	}
	return g.wait, func() {
		for _, p := range ps {
			p.Done(nil)
		}
		ps = nil
	}
}

func semCase(n int, wait time.Duration, b bugs, guard time.Duration) conformance.Gate {
	return conformance.Gate{
		New:         func(clk clock.Clock) levee.Gate { return newSemGate(clk, n, wait, b) },
		Replenishes: true,
		ZeroAllocs:  true,
		Block:       func(g levee.Gate) (time.Duration, func()) { return g.(*semGate).block() },
		WaitErr:     levee.ErrBulkheadFull,
		Guard:       guard,
	}
}

// refuseCase is semCase with a refusing state that lasts for lasts.
func refuseCase(lasts time.Duration, b bugs, guard time.Duration) conformance.Gate {
	c := semCase(2, time.Hour, b, guard)
	c.Refuse = func(g levee.Gate) (time.Duration, error) { return g.(*semGate).refuse(lasts) }
	c.ZeroAllocRefusals = true
	return c
}

// failedChecks returns the distinct check paths among the failures.
func failedChecks(fails []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range fails {
		path, _, _ := strings.Cut(f, ": ")
		if !seen[path] {
			seen[path] = true
			out = append(out, path)
		}
	}
	return out
}

func TestRunGate(t *testing.T) {
	const good, short = 5 * time.Second, 300 * time.Millisecond
	tests := []struct {
		name string
		c    conformance.Gate
		want string // a check path that must fail; empty: none may
	}{
		{name: "correct timed", c: semCase(2, time.Hour, bugs{}, good)},
		{name: "correct untimed", c: semCase(1, 0, bugs{}, good)},
		{name: "ignores the context", c: semCase(1, 0, bugs{ignoreCtx: true}, short), want: "/cancellation/cancelled while waiting"},
		{name: "waits on the real clock", c: semCase(1, time.Hour, bugs{realClock: true}, short), want: "/clock"},
		{name: "leaks a slot on failure", c: semCase(2, time.Hour, bugs{keepOnFailure: true}, short), want: "/panics"},
		{name: "allocates", c: semCase(2, time.Hour, bugs{allocate: true}, good), want: "/allocations"},
		{name: "leaks goroutines", c: semCase(2, time.Hour, bugs{spawn: true}, short), want: ""},
		{name: "no rejection when full", c: semCase(1, time.Hour, bugs{plainErrorFull: true}, good), want: "/clock"},
		{name: "correct refusing, timed", c: refuseCase(time.Hour, bugs{}, good)},
		{name: "correct refusing, untimed", c: refuseCase(0, bugs{}, good)},
		{name: "allocates refusals", c: refuseCase(time.Hour, bugs{allocRefusal: true}, good), want: "/refusing"},
		{name: "refuses with a plain error", c: refuseCase(time.Hour, bugs{plainRefusal: true}, good), want: "/refusing"},
		{name: "refuses on the real clock", c: refuseCase(time.Hour, bugs{realRefusal: true}, good), want: "/refusing"},
		{name: "admits while refusing", c: refuseCase(0, bugs{admitRefusing: true}, good), want: "/refusing"},
		{name: "settles twice", c: semCase(2, time.Hour, bugs{settleTwice: true}, good), want: "/settle once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fails := run(func(t conformance.T) { conformance.RunGate(t, tt.c) })
			checks := failedChecks(fails)
			switch {
			case tt.name == "leaks goroutines":
				// The leak shows at the top level, where the suite counts.
				if !strings.Contains(strings.Join(fails, "\n"), "leaks:") {
					t.Errorf("RunGate(%s) failures = %q, want a leak reported", tt.name, checks)
				}
			case tt.want == "" && len(fails) > 0:
				t.Errorf("RunGate(%s) failed a correct gate:\n%s", tt.name, strings.Join(fails, "\n"))
			case tt.want != "" && !contains(checks, tt.want):
				t.Errorf("RunGate(%s) failed checks %q, want %q among them:\n%s", tt.name, checks, tt.want, strings.Join(fails, "\n"))
			}
		})
	}
	close(forever)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s || strings.HasPrefix(x, s+"/") {
			return true
		}
	}
	return false
}

// retrier retries failures up to three attempts, waiting a minute between
// them, unless told to misbehave.
type retrier struct {
	clk          clock.Clock
	retryCancels bool // retries calls that ended in context.Canceled
	realSleep    time.Duration
}

func (r *retrier) Stage() levee.Stage { return levee.StageRetry }

func (r *retrier) Attempted(_ context.Context, a levee.Attempt) levee.RetryDecision {
	retry := a.Result == levee.Failure || (r.retryCancels && a.Err != nil)
	return levee.RetryDecision{Retry: retry && a.N < 3, Delay: time.Minute}
}

func (r *retrier) Wait(ctx context.Context, d time.Duration) error {
	if r.realSleep > 0 {
		time.Sleep(r.realSleep)
		return nil
	}
	if r.retryCancels {
		clock.Sleep(r.clk, d, nil)
		return nil
	}
	if !clock.Sleep(r.clk, d, ctx.Done()) {
		return ctx.Err()
	}
	return nil
}

// wrapper passes the call through, unless told to swallow panics or to
// run a panicking call again.
type wrapper struct {
	swallowPanics bool
	rerunPanics   int // runs a panicking call up to this many times
}

func (w *wrapper) Stage() levee.Stage { return levee.StageHedge }

func (w *wrapper) Execute(ctx context.Context, next levee.Next) (any, error) {
	v, err := next.Run(ctx)
	var pe *levee.PanicError
	for n := 1; n < w.rerunPanics && errors.As(err, &pe); n++ {
		v, err = next.Run(ctx)
	}
	if w.swallowPanics && errors.As(err, &pe) {
		return 0, nil
	}
	return v, err
}

// hedger starts a second copy of the call when the first has not answered
// within a minute on its clock, and returns the first answer.
type hedger struct{ clk clock.Clock }

func (h *hedger) Stage() levee.Stage { return levee.StageHedge }

func (h *hedger) Execute(ctx context.Context, next levee.Next) (any, error) {
	type result struct {
		v   any
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // the loser's
	results := make(chan result, 2)
	launch := func() {
		go func() {
			v, err := next.Run(ctx)
			results <- result{v, err}
		}()
	}
	launch()
	t := h.clk.NewTimer(time.Minute)
	defer t.Stop()
	select {
	case r := <-results:
		return r.v, r.err
	case <-t.C():
		launch()
	}
	r := <-results
	return r.v, r.err
}

func TestRunPolicy(t *testing.T) {
	const good, short = 5 * time.Second, 300 * time.Millisecond
	tests := []struct {
		name string
		c    conformance.Policy
		want string
	}{
		{name: "correct retrier", c: conformance.Policy{
			New:        func(clk clock.Clock) levee.Policy { return &retrier{clk: clk} },
			ZeroAllocs: true, Guard: good,
		}},
		{name: "correct wrapper", c: conformance.Policy{
			New:   func(clock.Clock) levee.Policy { return &wrapper{} },
			Guard: good,
		}},
		{name: "retrier ignores cancellation", c: conformance.Policy{
			New:   func(clk clock.Clock) levee.Policy { return &retrier{clk: clk, retryCancels: true} },
			Guard: short,
		}, want: "/cancellation"},
		{name: "retrier sleeps on the real clock", c: conformance.Policy{
			New:   func(clk clock.Clock) levee.Policy { return &retrier{clk: clk, realSleep: time.Second} },
			Guard: short,
		}, want: "/clock"},
		{name: "wrapper swallows panics", c: conformance.Policy{
			New:   func(clock.Clock) levee.Policy { return &wrapper{swallowPanics: true} },
			Guard: good,
		}, want: "/panics"},
		{name: "correct hedger", c: conformance.Policy{
			New:    func(clk clock.Clock) levee.Policy { return &hedger{clk: clk} },
			Hedges: 1, Guard: good,
		}},
		{name: "wrapper reruns panics", c: conformance.Policy{
			New:    func(clock.Clock) levee.Policy { return &wrapper{rerunPanics: 3} },
			Hedges: 1, Guard: good,
		}, want: "/panics"},
		{name: "wrapper promises no allocation", c: conformance.Policy{
			New:        func(clock.Clock) levee.Policy { return &wrapper{} },
			ZeroAllocs: true, Guard: good,
		}, want: "/allocations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fails := run(func(t conformance.T) { conformance.RunPolicy(t, tt.c) })
			checks := failedChecks(fails)
			switch {
			case tt.want == "" && len(fails) > 0:
				t.Errorf("RunPolicy(%s) failed a correct policy:\n%s", tt.name, strings.Join(fails, "\n"))
			case tt.want != "" && !contains(checks, tt.want):
				t.Errorf("RunPolicy(%s) failed checks %q, want %q among them:\n%s", tt.name, checks, tt.want, strings.Join(fails, "\n"))
			}
		})
	}
}

// TestGateSuite runs the suite through the *testing.T entry point on a
// correct gate.
func TestGateSuite(t *testing.T) {
	conformance.TestGate(t, semCase(3, time.Minute, bugs{}, 0))
}

// TestSettleOnceAcrossReconfigure checks that the check passes a gate whose
// reconfiguration keeps its permits' bookkeeping, and fails one whose
// reconfiguration loses it (every settle then frees a slot).
func TestSettleOnceAcrossReconfigure(t *testing.T) {
	newGate := func(clk clock.Clock) levee.Gate { return newSemGate(clk, 2, time.Hour, bugs{}) }
	for _, tt := range []struct {
		name   string
		broken bool
	}{{"keeps bookkeeping", false}, {"loses bookkeeping", true}} {
		t.Run(tt.name, func(t *testing.T) {
			reconfigure := func(g levee.Gate) error {
				if tt.broken {
					g.(*semGate).bugs.settleTwice = true
				}
				return nil
			}
			fails := run(func(t conformance.T) { conformance.RunSettleOnceAcrossReconfigure(t, newGate, nil, reconfigure) })
			if tt.broken && len(fails) == 0 {
				t.Errorf("RunSettleOnceAcrossReconfigure passed a gate whose reconfiguration frees a slot per settle")
			}
			if !tt.broken && len(fails) > 0 {
				t.Errorf("RunSettleOnceAcrossReconfigure failed a correct gate:\n%s", strings.Join(fails, "\n"))
			}
		})
	}
}
