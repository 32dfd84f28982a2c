package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/internal/conformance"
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
}

var (
	sink    *int
	forever = make(chan struct{}) // what spawned goroutines wait on
)

// semGate is a small correct gate (a semaphore with a timed wait) unless
// told to misbehave.
type semGate struct {
	slots chan struct{}
	wait  time.Duration // 0: wait until ctx ends
	clk   clock.Clock
	bugs  bugs
}

func newSemGate(clk clock.Clock, n int, wait time.Duration, b bugs) *semGate {
	return &semGate{slots: make(chan struct{}, n), wait: wait, clk: clk, bugs: b}
}

func (g *semGate) Stage() levee.Stage { return levee.StageConcurrency }

func (g *semGate) Acquire(ctx context.Context) (levee.Permit, error) {
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

func (g *semGate) admit() levee.Permit {
	if g.bugs.allocate {
		sink = new(int)
	}
	if g.bugs.spawn {
		go func() { <-forever }()
	}
	return levee.NewPermit(g, 0, 0)
}

func (g *semGate) Release(_ levee.Permit, o levee.Outcome) {
	if g.bugs.keepOnFailure && o.Result == levee.Failure {
		return
	}
	<-g.slots
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

func (r *retrier) Attempted(_ context.Context, a levee.Attempt) levee.Decision {
	retry := a.Result == levee.Failure || (r.retryCancels && a.Err != nil)
	return levee.Decision{Retry: retry && a.N < 3, Delay: time.Minute}
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
// allocate.
type wrapper struct {
	swallowPanics bool
}

func (w *wrapper) Stage() levee.Stage { return levee.StageHedge }

func (w *wrapper) Execute(ctx context.Context, next levee.Next) (any, error) {
	v, err := next.Run(ctx)
	var pe *levee.PanicError
	if w.swallowPanics && errors.As(err, &pe) {
		return 0, nil
	}
	return v, err
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
