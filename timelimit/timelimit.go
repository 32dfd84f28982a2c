package timelimit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
)

// StageTotal is the stage of a total limit ([Config.Total]): outside retry
// and hedge, so it bounds every attempt and backoff of a call together, and
// inside fallback, so a fallback can replace its timeout.
const StageTotal = levee.StageRetry - 50

// Config configures a [Timelimit]. The zero value is ready to use: a
// per-attempt limit of one second.
type Config struct {
	// Name labels the policy's events and errors.
	Name string
	// Timeout is the time limit. Default 1s. Zero means the default;
	// negative values are refused.
	Timeout time.Duration
	// Total makes this a limit for the whole call, retries and backoffs
	// included, by placing it at [StageTotal] instead of
	// [levee.StageTimeout]. Default false: a per-attempt limit.
	Total bool
	// Clock is the time the limit runs on and that stamps the policy's
	// events. Nil means [clock.Real], on which the limit is a plain
	// context deadline (context.WithDeadlineCause). With another clock
	// (a clocktest.Fake in tests) the call's context reports a deadline on
	// that clock and ends when that clock reaches it; contexts derived from
	// it see context.Canceled with the [*TimeoutError] as cause.
	Clock clock.Clock
}

// Timelimit ends a call that runs longer than its limit by cancelling the
// call's context. It implements [levee.Scoper]; a pipeline runs it with no
// more allocation than context.WithTimeout. One Timelimit serves any number
// of goroutines. The zero Timelimit is ready to use, as one made by
// New(Config{}).
type Timelimit struct {
	timeout   time.Duration
	stage     levee.Stage
	name      string
	clk       clock.Clock
	real      bool // clk is clock.Real: the limit is a runtime deadline
	err       *TimeoutError
	listeners levee.Listeners
	once      sync.Once // gives a zero Timelimit the zero Config's settings
}

// New returns a Timelimit configured by cfg, or an error naming the invalid
// field.
func New(cfg Config) (*Timelimit, error) {
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("timelimit: Config.Timeout = %v, want 0 (default 1s) or positive", cfg.Timeout)
	}
	t := &Timelimit{}
	t.configure(cfg)
	t.once.Do(func() {})
	return t, nil
}

func (t *Timelimit) configure(cfg Config) {
	t.timeout, t.stage, t.name, t.clk = max(cfg.Timeout, 0), levee.StageTimeout, cfg.Name, clock.Or(cfg.Clock)
	if t.timeout == 0 {
		t.timeout = time.Second
	}
	if cfg.Total {
		t.stage = StageTotal
	}
	t.real = t.clk == clock.Real
	t.err = &TimeoutError{Name: cfg.Name, Limit: t.timeout, Total: cfg.Total}
}

// ready gives a zero Timelimit the settings of the zero Config.
func (t *Timelimit) ready() {
	t.once.Do(func() { t.configure(Config{}) })
}

// Stage returns [levee.StageTimeout], or [StageTotal] for a total limit.
func (t *Timelimit) Stage() levee.Stage {
	t.ready()
	return t.stage
}

// Timeout returns the limit.
func (t *Timelimit) Timeout() time.Duration {
	t.ready()
	return t.timeout
}

// OnEvent registers a listener for the policy's events: an
// [levee.EventInfo] with Reason "timeout" each time the limit ends a call
// (Wait is the limit, Err what the call returned).
func (t *Timelimit) OnEvent(fn levee.Listener) (remove func()) { return t.listeners.Add(fn) }

// Enter returns ctx with the limit's deadline, whose cause is the policy's
// own [*TimeoutError]. When the caller's deadline comes first, ctx is
// returned as it is: the caller's deadline wins, and deriving a context would
// cost allocations for nothing.
func (t *Timelimit) Enter(ctx context.Context) (context.Context, context.CancelFunc) {
	t.ready()
	if t.real {
		d := time.Now().Add(t.timeout)
		if cur, ok := ctx.Deadline(); ok && !cur.After(d) {
			return ctx, nop
		}
		return context.WithDeadlineCause(ctx, d, t.err)
	}
	d := t.clk.Now().Add(t.timeout)
	if cur, ok := ctx.Deadline(); ok && !cur.After(d) {
		return ctx, nop
	}
	cctx, cancel := context.WithCancelCause(ctx)
	timer := t.clk.AfterFunc(t.timeout, func() { cancel(t.err) })
	return &clockedCtx{Context: cctx, deadline: d, cause: t.err}, func() {
		timer.Stop()
		cancel(context.Canceled)
	}
}

func nop() {}

// clockedCtx is a context with a deadline on an injected clock: an
// AfterFunc of that clock cancels it with cause.
type clockedCtx struct {
	context.Context
	deadline time.Time
	cause    error
}

func (c *clockedCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Err reports context.DeadlineExceeded once the clock reached the
// deadline, as a context made by context.WithDeadline does.
func (c *clockedCtx) Err() error {
	err := c.Context.Err()
	if err != nil && context.Cause(c.Context) == c.cause {
		return context.DeadlineExceeded
	}
	return err
}

// Exit turns err into the policy's [*TimeoutError] when the limit's
// deadline, and not the caller's cancellation or deadline, ended the call.
func (t *Timelimit) Exit(parent, scoped context.Context, err error) error {
	t.ready()
	if err == nil || parent.Err() != nil || context.Cause(scoped) != error(t.err) {
		return err
	}
	if t.listeners.Active() {
		t.listeners.Emit(levee.Event{Kind: levee.EventInfo, Policy: "timelimit", Name: t.name,
			Time: t.clk.Now(), Reason: "timeout", Wait: t.timeout, Err: err})
	}
	return t.err
}

// TimeoutError is the error of a call ended by a [Timelimit]. It matches
// [levee.ErrTimeout] and [context.DeadlineExceeded] with errors.Is. Each
// Timelimit returns its own value, so errors.As tells which limit fired.
type TimeoutError struct {
	// Name is the policy's configured name.
	Name string
	// Limit is the time limit that was exceeded.
	Limit time.Duration
	// Total is true for a total limit, false for a per-attempt one.
	Total bool
}

// Error says which limit was exceeded.
func (e *TimeoutError) Error() string {
	kind := "attempt"
	if e.Total {
		kind = "total"
	}
	if e.Name != "" {
		return fmt.Sprintf("timelimit: %s: %s time limit %v exceeded", e.Name, kind, e.Limit)
	}
	return fmt.Sprintf("timelimit: %s time limit %v exceeded", kind, e.Limit)
}

// Timeout reports true, for code that checks net.Error-style timeouts.
func (e *TimeoutError) Timeout() bool { return true }

// Unwrap returns [levee.ErrTimeout].
func (e *TimeoutError) Unwrap() error { return levee.ErrTimeout }

// Remaining returns the time left before ctx's deadline, and false when ctx
// has no deadline. A deadline already passed gives zero. Adapters use it to
// pass the remaining budget on to the next hop.
func Remaining(ctx context.Context) (time.Duration, bool) {
	return RemainingAt(ctx, time.Now())
}

// RemainingAt is [Remaining] measured from now.
func RemainingAt(ctx context.Context, now time.Time) (time.Duration, bool) {
	dl, ok := ctx.Deadline()
	if !ok {
		return 0, false
	}
	return max(dl.Sub(now), 0), true
}

var _ levee.Scoper = (*Timelimit)(nil)
