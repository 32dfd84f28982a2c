package health

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
)

// Probe names the Kubernetes probes a check belongs to. Values combine with |.
type Probe uint8

// The probes, one per endpoint.
const (
	// Liveness (/livez): failing means the process is wedged and a restart
	// would fix it. Keep dependency checks out of it, or one database outage
	// restarts every pod.
	Liveness Probe = 1 << iota
	// Readiness (/readyz): failing takes the pod out of its Service's
	// endpoints until it passes again. Draining always fails it.
	Readiness
	// Startup (/startupz): Kubernetes holds liveness and readiness probes
	// back until it passes once. Starting up happens once, so a check that
	// has passed for /startupz stays passed there: later /startupz probes
	// report that pass without running the check again. (Probes the check
	// also belongs to still run it.)
	Startup
)

// String returns the probe's endpoint name without the slash ("livez",
// "readyz", "startupz"), or a combination joined by "|".
func (p Probe) String() string {
	var s string
	for _, e := range [...]struct {
		p Probe
		n string
	}{{Liveness, "livez"}, {Readiness, "readyz"}, {Startup, "startupz"}} {
		if p&e.p != 0 {
			if s != "" {
				s += "|"
			}
			s += e.n
		}
	}
	if s == "" {
		return "none"
	}
	return s
}

// DefaultTimeout is the time a check may take when neither [Check.Timeout]
// nor [Config.Timeout] says otherwise. Kubernetes' default probe timeout is
// one second, so probes should set timeoutSeconds above it.
const DefaultTimeout = time.Second

// ShutdownCheck is the name of the built-in readiness check that fails once
// [Health.Drain] has been called. It cannot be excluded.
const ShutdownCheck = "shutdown"

// Config configures a [Health]. The zero value is ready to use.
type Config struct {
	// Clock schedules interval checks and check timeouts. Nil means
	// [clock.Real].
	Clock clock.Clock
	// Timeout is the default time limit of a check that sets none. Zero
	// means [DefaultTimeout]; negative is refused.
	Timeout time.Duration
	// WithholdReasons replaces failure reasons in HTTP responses with
	// "reason withheld", as kube-apiserver does on endpoints that anyone may
	// call. Reports returned by [Health.Check] keep the reasons.
	WithholdReasons bool
	// Name names this instance in events (Event.Name). Optional.
	Name string
}

// Check is one named health check.
type Check struct {
	// Name identifies the check in output, in ?exclude=NAME and in
	// /readyz/NAME. Required; letters, digits and . _ - : / only, not
	// starting or ending with /; unique within a [Health].
	Name string
	// Func performs the check: nil means healthy. It should return promptly
	// when ctx is done; a Func that ignores ctx is abandoned at its timeout
	// and reported failed.
	Func func(ctx context.Context) error
	// Probes lists the probes the check counts for. Zero means [Readiness],
	// where checks of dependencies belong.
	Probes Probe
	// Timeout limits one run. Zero means [Config.Timeout]; negative means
	// no limit (not recommended for on-demand checks).
	Timeout time.Duration
	// Interval, when positive, runs the check in the background every
	// Interval (and once right away) and answers probes from the cached
	// result, so a probe never waits for it and a burst of probes cannot
	// overload the dependency. Until the first run ends the check reports
	// failed ("not checked yet"). Zero runs the check on every probe;
	// negative is refused.
	Interval time.Duration
	// NonCritical makes a failure degrade the probe instead of failing it:
	// the probe still answers 200, and the listing and JSON show the check
	// as degraded. Use it for dependencies the service can work without
	// (a cache, a recommendation service).
	NonCritical bool
}

// Status is the state of a check or of a whole probe.
type Status string

// The statuses.
const (
	// StatusOK: the check passed (or, for a probe, every check did).
	StatusOK Status = "ok"
	// StatusFailed: a critical check failed; the probe fails.
	StatusFailed Status = "failed"
	// StatusDegraded: a non-critical check failed; the probe still passes.
	StatusDegraded Status = "degraded"
	// StatusExcluded: the caller excluded the check with ?exclude=NAME.
	StatusExcluded Status = "excluded"
)

// Result is the outcome of one check within a [Report].
type Result struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Error is the failure reason; empty when the check passed.
	Error    string `json:"error,omitempty"`
	Critical bool   `json:"critical"`
	// Cached is true for interval checks, whose result came from their
	// last background run.
	Cached bool `json:"cached,omitempty"`
	// CheckedAt is when the run that produced the result started, on the
	// configured clock; zero for checks not run.
	CheckedAt time.Time `json:"checked_at,omitzero"`
	// Duration is how long that run took.
	Duration time.Duration `json:"duration_ns,omitempty"`
}

// Report is the outcome of one probe.
type Report struct {
	// Probe is the endpoint name: "livez", "readyz" or "startupz".
	Probe string `json:"probe"`
	// Status is ok, degraded (a non-critical check failed) or failed.
	Status Status   `json:"status"`
	Checks []Result `json:"checks"`
	// Warnings lists exclusions that matched nothing, as kube-apiserver
	// reports them.
	Warnings []string `json:"warnings,omitempty"`
}

// OK reports whether the probe passes (its status is ok or degraded).
func (r Report) OK() bool { return r.Status != StatusFailed }

// TimeoutError is the failure of a check that ran past its time limit. It
// matches [levee.ErrTimeout] and [context.DeadlineExceeded].
type TimeoutError struct{ Timeout time.Duration }

func (e *TimeoutError) Error() string { return fmt.Sprintf("timed out after %v", e.Timeout) }

// Unwrap returns [levee.ErrTimeout].
func (e *TimeoutError) Unwrap() error { return levee.ErrTimeout }

// errDraining is the reason the shutdown check gives.
var errDraining = errors.New("process is shutting down")

var errNotChecked = errors.New("not checked yet")

// Health is a registry of checks and the source of the probe endpoints.
//
// Add checks with [Health.Add], serve them with [Health.Handler] or
// [Health.Register], and call [Health.Drain] when shutdown begins
// (package lifecycle does) so readiness fails at once. [Health.Close] stops
// the background runs of interval checks. All methods are safe for
// concurrent use. The zero value works as New(Config{}) would make it.
type Health struct {
	cfg      Config
	clk      clock.Clock
	timeout  time.Duration
	mu       sync.Mutex               // serializes Add and Close
	checks   atomic.Pointer[[]*entry] // copy on write, read lock-free by probes
	draining atomic.Bool
	closed   bool
	stop     chan struct{}
	wg       sync.WaitGroup
	events   levee.Listeners
}

type entry struct {
	Check
	timeout time.Duration
	cached  atomic.Pointer[Result] // interval checks only
	started atomic.Pointer[Result] // its first pass for /startupz
}

// latch records r as e's pass for /startupz when probe p is Startup and r
// passed, and returns r.
func (e *entry) latch(p Probe, r Result) Result {
	if p == Startup && r.Status == StatusOK && e.started.Load() == nil {
		e.started.CompareAndSwap(nil, &r)
	}
	return r
}

// latched returns e's pass for /startupz when p is Startup and e has one.
func (e *entry) latched(p Probe) (Result, bool) {
	if p != Startup {
		return Result{}, false
	}
	if r := e.started.Load(); r != nil {
		return *r, true
	}
	return Result{}, false
}

// New returns a Health with no checks, or an error naming the invalid
// field of cfg.
func New(cfg Config) (*Health, error) {
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("health: Config.Timeout = %v, want >= 0", cfg.Timeout)
	}
	h := &Health{cfg: cfg, clk: clock.Or(cfg.Clock), timeout: cfg.Timeout, stop: make(chan struct{})}
	if h.timeout == 0 {
		h.timeout = DefaultTimeout
	}
	return h, nil
}

// Add registers c, or returns an error naming the invalid field. An
// interval check starts running in the background at once.
func (h *Health) Add(c Check) error {
	if err := validName(c.Name); err != nil {
		return err
	}
	if c.Name == ShutdownCheck {
		return fmt.Errorf("health: Check.Name %q is reserved for the built-in draining check", c.Name)
	}
	if c.Func == nil {
		return fmt.Errorf("health: check %q: Check.Func is nil", c.Name)
	}
	if c.Interval < 0 {
		return fmt.Errorf("health: check %q: Check.Interval = %v, want >= 0", c.Name, c.Interval)
	}
	if c.Probes&^(Liveness|Readiness|Startup) != 0 {
		return fmt.Errorf("health: check %q: Check.Probes = %d has unknown bits", c.Name, c.Probes)
	}
	if c.Probes == 0 {
		c.Probes = Readiness
	}
	e := &entry{Check: c, timeout: c.Timeout}
	if e.timeout == 0 {
		e.timeout = h.timeout
	}
	if e.timeout == 0 { // a Health not made by New
		e.timeout = DefaultTimeout
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errors.New("health: Add after Close")
	}
	var cur []*entry
	if p := h.checks.Load(); p != nil {
		cur = *p
	}
	for _, o := range cur {
		if o.Name == c.Name {
			return fmt.Errorf("health: Check.Name %q is already registered", c.Name)
		}
	}
	next := make([]*entry, len(cur), len(cur)+1)
	copy(next, cur)
	next = append(next, e)
	h.checks.Store(&next)
	if c.Interval > 0 {
		if h.stop == nil { // a Health not made by New
			h.stop = make(chan struct{})
		}
		h.wg.Add(1)
		go h.loop(e)
	}
	return nil
}

func validName(n string) error {
	if n == "" {
		return errors.New("health: Check.Name is empty")
	}
	if n[0] == '/' || n[len(n)-1] == '/' {
		return fmt.Errorf("health: Check.Name %q starts or ends with /", n)
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == '-', c == ':', c == '/':
		default:
			return fmt.Errorf("health: Check.Name %q has character %q; want letters, digits and . _ - : /", n, c)
		}
	}
	return nil
}

// Drain makes readiness fail from now on: the built-in "shutdown" check
// reports "process is shutting down". Liveness is unaffected, so the
// process is not restarted while it drains. Calling it again does nothing.
func (h *Health) Drain() {
	if h.draining.Swap(true) {
		return
	}
	if h.events.Active() {
		h.events.Emit(levee.Event{Kind: levee.EventStateChange, Policy: "health", Name: h.cfg.Name,
			Time: h.clock().Now(), From: "serving", To: "draining", Reason: ShutdownCheck})
	}
}

// Draining reports whether [Health.Drain] has been called.
func (h *Health) Draining() bool { return h.draining.Load() }

// OnEvent registers fn for the events of this Health: an
// [levee.EventStateChange] with Policy "health" each time an interval
// check's status changes (Reason is the check's name, From and To its old
// and new status, Err its error) and when draining begins.
func (h *Health) OnEvent(fn levee.Listener) (remove func()) { return h.events.Add(fn) }

// Close stops the background runs of interval checks and waits for them to
// end. Probes keep answering from the last cached results.
func (h *Health) Close() error {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		if h.stop != nil {
			close(h.stop)
		}
	}
	h.mu.Unlock()
	h.wg.Wait()
	return nil
}

// clock returns Config.Clock, or the real clock for a Health not made by
// New.
func (h *Health) clock() clock.Clock { return clock.Or(h.clk) }

func (h *Health) loop(e *entry) {
	defer h.wg.Done()
	h.refresh(e)
	t := h.clock().NewTimer(e.Interval)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C():
			h.refresh(e)
			t.Reset(e.Interval)
		}
	}
}

func (h *Health) refresh(e *entry) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-h.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	r := h.run(ctx, e)
	cancel()
	r.Cached = true
	old := e.cached.Swap(&r)
	if h.events.Active() {
		from := Status("pending")
		if old != nil {
			from = old.Status
		}
		if from != r.Status {
			var err error
			if r.Error != "" {
				err = errors.New(r.Error)
			}
			h.events.Emit(levee.Event{Kind: levee.EventStateChange, Policy: "health", Name: h.cfg.Name,
				Time: r.CheckedAt, From: string(from), To: string(r.Status), Reason: e.Name, Err: err})
		}
	}
}

// run executes one check with its time limit. A Func that does not return
// by then is abandoned: its goroutine ends whenever the Func does.
func (h *Health) run(ctx context.Context, e *entry) Result {
	start := h.clock().Now()
	t0 := h.clock().Nanotime()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var t clock.Timer
	if e.timeout > 0 {
		d := e.timeout
		t = h.clock().AfterFunc(d, func() { cancel(&TimeoutError{Timeout: d}) })
	}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- fmt.Errorf("panic: %v", v)
			}
		}()
		done <- e.Func(ctx)
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = context.Cause(ctx)
	}
	if t != nil {
		t.Stop()
	}
	r := Result{Name: e.Name, Status: StatusOK, Critical: !e.NonCritical, CheckedAt: start,
		Duration: time.Duration(h.clock().Nanotime() - t0)}
	if err != nil {
		r.Error = err.Error()
		r.Status = failStatus(e)
	}
	return r
}

func failStatus(e *entry) Status {
	if e.NonCritical {
		return StatusDegraded
	}
	return StatusFailed
}

// Check runs probe p's checks (interval checks answer from their cache,
// the others run now, concurrently) and returns the report. Checks named
// in exclude are reported as excluded and do not count; names that match
// no check of the probe become warnings. For [Readiness] the built-in
// shutdown check comes first and fails while draining.
func (h *Health) Check(ctx context.Context, p Probe, exclude ...string) Report {
	rep := Report{Probe: p.String(), Status: StatusOK}
	var all []*entry
	if ptr := h.checks.Load(); ptr != nil {
		all = *ptr
	}
	// Sized up front: goroutines below write through pointers into it.
	rep.Checks = make([]Result, 0, len(all)+1)
	if p&Readiness != 0 {
		r := Result{Name: ShutdownCheck, Status: StatusOK, Critical: true}
		if h.draining.Load() {
			r.Status, r.Error = StatusFailed, errDraining.Error()
		}
		rep.Checks = append(rep.Checks, r)
	}
	used := make([]bool, len(exclude))
	var wg sync.WaitGroup
	for _, e := range all {
		if e.Probes&p == 0 {
			continue
		}
		i := len(rep.Checks)
		rep.Checks = append(rep.Checks, Result{Name: e.Name, Critical: !e.NonCritical})
		if excluded(e.Name, exclude, used) {
			rep.Checks[i].Status = StatusExcluded
			continue
		}
		if r, ok := e.latched(p); ok {
			rep.Checks[i] = r
			continue
		}
		if e.Interval > 0 {
			if c := e.cached.Load(); c != nil {
				rep.Checks[i] = e.latch(p, *c)
			} else {
				rep.Checks[i].Status, rep.Checks[i].Error, rep.Checks[i].Cached = failStatus(e), errNotChecked.Error(), true
			}
			continue
		}
		wg.Add(1)
		go func(e *entry, out *Result) {
			defer wg.Done()
			*out = e.latch(p, h.run(ctx, e))
		}(e, &rep.Checks[i])
	}
	wg.Wait()
	for i, n := range exclude {
		if !used[i] && !seen(exclude[:i], n) {
			rep.Warnings = append(rep.Warnings, n)
		}
	}
	for _, r := range rep.Checks {
		switch r.Status {
		case StatusFailed:
			rep.Status = StatusFailed
		case StatusDegraded:
			if rep.Status == StatusOK {
				rep.Status = StatusDegraded
			}
		}
	}
	return rep
}

// CheckOne runs the check named name if it belongs to probe p (the
// shutdown check belongs to [Readiness]). ok is false when there is no such
// check.
func (h *Health) CheckOne(ctx context.Context, p Probe, name string) (r Result, ok bool) {
	if p&Readiness != 0 && name == ShutdownCheck {
		r := Result{Name: ShutdownCheck, Status: StatusOK, Critical: true}
		if h.draining.Load() {
			r.Status, r.Error = StatusFailed, errDraining.Error()
		}
		return r, true
	}
	ptr := h.checks.Load()
	if ptr == nil {
		return Result{}, false
	}
	for _, e := range *ptr {
		if e.Name != name || e.Probes&p == 0 {
			continue
		}
		if r, ok := e.latched(p); ok {
			return r, true
		}
		if e.Interval > 0 {
			if c := e.cached.Load(); c != nil {
				return e.latch(p, *c), true
			}
			return Result{Name: e.Name, Status: failStatus(e), Error: errNotChecked.Error(), Critical: !e.NonCritical, Cached: true}, true
		}
		return e.latch(p, h.run(ctx, e)), true
	}
	return Result{}, false
}

func excluded(name string, exclude []string, used []bool) bool {
	hit := false
	for i, n := range exclude {
		if n == name {
			used[i] = true
			hit = true
		}
	}
	return hit
}

func seen(list []string, n string) bool {
	for _, o := range list {
		if o == n {
			return true
		}
	}
	return false
}
