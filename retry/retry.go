package retry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
)

// Config configures a [Retry]. The zero value is ready to use: three
// attempts, exponential backoff from 100ms capped at 10s with full jitter, no
// budget, no retry that cannot finish before the context's deadline.
type Config struct {
	// Name labels the policy's events.
	Name string
	// MaxAttempts is the most attempts a call makes, the first included: 1
	// means no retry. Default 3. Zero means the default; negative values
	// are refused.
	MaxAttempts int
	// Backoff is the shape of the delay: [Exponential] (the zero value) or
	// [Constant].
	Backoff Backoff
	// Jitter randomises the delay: [JitterFull] (the zero value),
	// [JitterNone], [JitterEqual] or [JitterDecorrelated].
	Jitter Jitter
	// BaseDelay is the first delay, before jitter. Default 100ms. Zero
	// means the default; negative values are refused.
	BaseDelay time.Duration
	// MaxDelay caps every computed delay. Default 10s. Zero means the
	// default; values below BaseDelay are refused.
	MaxDelay time.Duration
	// Multiplier is the growth factor of [Exponential] backoff. Default 2.
	// Zero means the default; values below 1 are refused.
	Multiplier float64
	// Rand returns uniform random numbers in [0, 1) for jitter. Tests fix
	// it; nil means the lock-free top-level source of math/rand/v2.
	Rand func() float64

	// RetryIf, when set, is asked about every failed attempt that would be
	// retried and may veto the retry by returning false. What counts as a
	// failure is the pipeline's classifier's decision ([levee.Failure]);
	// successes and ignored outcomes (such as a cancelled context or an
	// error marked with [levee.Ignore]) are never retried. Nil retries every
	// failure.
	RetryIf func(err error) bool
	// RetryRejections retries rejections by the pipeline's own gates (errors
	// matching [levee.ErrRejected]: an open breaker, a rate limit, a full
	// bulkhead, shedding), waiting at least their retry-after. Default
	// false: a rejection is returned at once, since retrying into a gate
	// that just refused only adds load.
	RetryRejections bool
	// MaxRetryAfter caps a delay asked for by the error itself (see
	// [levee.RetryAfter]): such a delay replaces the computed one when it is
	// longer, up to this cap. Default 30s. Zero means the default; negative
	// means errors' delays are not honoured (a "do not retry" pushback still
	// is).
	MaxRetryAfter time.Duration
	// RetryPastDeadline lets a retry start even when its delay reaches or
	// passes the context's deadline. Default false: such a retry could not
	// finish, so the last error is returned at once.
	RetryPastDeadline bool

	// Budget, when set, bounds retries across every caller sharing it.
	// When it refuses a retry the call returns a [*BudgetError]. Nil means
	// no budget.
	Budget Budget
	// Clock times the waits and stamps events. Nil means [clock.Real]. The
	// deadline check compares the clock's Now with the context's deadline,
	// so a fake clock used with deadlines should start at the real time.
	Clock clock.Clock
}

// Retry makes another attempt when a call fails, after a backoff delay. It
// implements [levee.Retrier]: put it in a pipeline (its stage is
// [levee.StageRetry], outside breakers and limits) and the pipeline runs the
// loop, asking [Retry.Attempted] after each attempt and waiting with
// [Retry.Wait]. One Retry serves any number of goroutines.
//
// A retry is made when all of these hold: the attempt failed (by the
// pipeline's classifier) or was a rejection and RetryRejections is set; the
// RetryIf predicate, if any, agrees; the error does not say "do not retry"
// (see [ErrNoRetry]); attempts remain; the context is live and, unless
// RetryPastDeadline is set, its deadline lies beyond the delay; and the
// budget, if any, allows it.
//
// The zero Retry is ready to use, as one made by New(Config{}).
type Retry struct {
	cfg           Config
	maxAttempts   int
	backoff       Backoff
	jitter        Jitter
	base, cap     time.Duration
	mult          float64
	rand          func() float64
	maxRetryAfter time.Duration
	clk           clock.Clock
	pipe          *levee.Pipeline
	listeners     levee.Listeners
	once          sync.Once // gives a zero Retry the zero Config's settings
}

// New returns a Retry configured by cfg, or an error naming the first
// invalid field.
func New(cfg Config) (*Retry, error) {
	r := &Retry{}
	if err := r.configure(cfg); err != nil {
		return nil, err
	}
	r.once.Do(func() {})
	return r, nil
}

// ready gives a zero Retry the settings of the zero Config.
func (r *Retry) ready() {
	r.once.Do(func() { _ = r.configure(Config{}) }) // the zero Config is valid
}

func (r *Retry) configure(cfg Config) error {
	r.cfg, r.backoff, r.jitter, r.clk, r.rand = cfg, cfg.Backoff, cfg.Jitter, clock.Or(cfg.Clock), cfg.Rand
	switch {
	case cfg.MaxAttempts < 0:
		return fmt.Errorf("retry: Config.MaxAttempts = %d, want 0 (default 3) or at least 1", cfg.MaxAttempts)
	case cfg.MaxAttempts == 0:
		r.maxAttempts = 3
	default:
		r.maxAttempts = cfg.MaxAttempts
	}
	if cfg.Backoff > Constant {
		return fmt.Errorf("retry: Config.Backoff = %d, want Exponential or Constant", cfg.Backoff)
	}
	if cfg.Jitter > JitterDecorrelated {
		return fmt.Errorf("retry: Config.Jitter = %d, want JitterFull, JitterNone, JitterEqual or JitterDecorrelated", cfg.Jitter)
	}
	switch {
	case cfg.BaseDelay < 0:
		return fmt.Errorf("retry: Config.BaseDelay = %v, want 0 (default 100ms) or positive", cfg.BaseDelay)
	case cfg.BaseDelay == 0:
		r.base = 100 * time.Millisecond
	default:
		r.base = cfg.BaseDelay
	}
	switch {
	case cfg.MaxDelay == 0:
		r.cap = max(10*time.Second, r.base)
	case cfg.MaxDelay < r.base:
		return fmt.Errorf("retry: Config.MaxDelay = %v, want 0 (default 10s) or at least BaseDelay (%v)", cfg.MaxDelay, r.base)
	default:
		r.cap = cfg.MaxDelay
	}
	switch {
	case cfg.Multiplier == 0:
		r.mult = 2
	case cfg.Multiplier < 1 || math.IsNaN(cfg.Multiplier) || math.IsInf(cfg.Multiplier, 0):
		return fmt.Errorf("retry: Config.Multiplier = %v, want 0 (default 2) or a finite number at least 1", cfg.Multiplier)
	default:
		r.mult = cfg.Multiplier
	}
	switch {
	case cfg.MaxRetryAfter == 0:
		r.maxRetryAfter = 30 * time.Second
	case cfg.MaxRetryAfter < 0:
		r.maxRetryAfter = -1
	default:
		r.maxRetryAfter = cfg.MaxRetryAfter
	}
	if r.rand == nil {
		r.rand = rand.Float64
	}
	r.pipe = levee.New(r)
	return nil
}

// Stage returns [levee.StageRetry].
func (r *Retry) Stage() levee.Stage { return levee.StageRetry }

// OnEvent registers a listener for the policy's events: an [levee.EventRetry]
// before each retry (Attempt is the attempt that failed, Wait the delay,
// Reason "backoff" or "retry-after", Err the error), and an
// [levee.EventInfo] when a failed call is not retried for a reason the
// caller may want to see (Reason "budget-exhausted", "deadline",
// "no-retry").
func (r *Retry) OnEvent(fn levee.Listener) (remove func()) { return r.listeners.Add(fn) }

// MaxAttempts returns the configured attempt limit.
func (r *Retry) MaxAttempts() int {
	r.ready()
	return r.maxAttempts
}

// ErrNoRetry marks an error that must not be retried, whatever the
// classifier says: wrap it into an error (fmt.Errorf("...: %w",
// retry.ErrNoRetry)) or mark an error with [NoRetry].
//
// Code that cannot import this package (transport adapters) says the same
// with a pushback: any error in the chain with a method RetryAfter()
// time.Duration that returns a negative duration stops retries. This is how
// a gRPC grpc-retry-pushback-ms that is negative or not a number should be
// mapped.
var ErrNoRetry = errors.New("retry: do not retry")

// NoRetry marks err so that no [Retry] retries it. errors.Is and errors.As
// still see err. NoRetry(nil) is nil.
func NoRetry(err error) error {
	if err == nil {
		return nil
	}
	return noRetryError{err}
}

type noRetryError struct{ err error }

func (e noRetryError) Error() string   { return e.err.Error() }
func (e noRetryError) Unwrap() []error { return []error{e.err, ErrNoRetry} }

// retryAfterError is any error that knows when to come back.
type retryAfterError interface {
	error
	RetryAfter() time.Duration
}

var stop = levee.RetryDecision{}

// Attempted decides, after attempt a, whether to retry and after what delay.
// The pipeline calls it; it does not allocate unless it returns a
// [*BudgetError].
func (r *Retry) Attempted(ctx context.Context, a levee.Attempt) levee.RetryDecision {
	r.ready()
	b := r.cfg.Budget
	if b != nil {
		if a.N == 1 {
			b.Request()
		}
		b.Outcome(a.Result)
	}
	if a.Err == nil || a.Result == levee.Success {
		return stop
	}
	if errors.Is(a.Err, levee.ErrRejected) {
		if !r.cfg.RetryRejections {
			return stop
		}
	} else if a.Result != levee.Failure {
		return stop
	}
	if a.N >= r.maxAttempts || ctx.Err() != nil {
		return stop
	}
	if r.cfg.RetryIf != nil && !r.cfg.RetryIf(a.Err) {
		return stop
	}
	if errors.Is(a.Err, ErrNoRetry) {
		r.info(a, "no-retry")
		return stop
	}
	delay, reason := r.Delay(a.N, a.Delay), "backoff"
	if ra, ok := errors.AsType[retryAfterError](a.Err); ok {
		w := ra.RetryAfter()
		if w < 0 {
			r.info(a, "no-retry")
			return stop
		}
		if r.maxRetryAfter > 0 && w > delay {
			delay, reason = min(w, r.maxRetryAfter), "retry-after"
		}
	}
	if !r.cfg.RetryPastDeadline {
		if dl, ok := ctx.Deadline(); ok && !r.clk.Now().Add(delay).Before(dl) {
			r.info(a, "deadline")
			return stop
		}
	}
	if b != nil && !b.TryRetry() {
		r.info(a, "budget-exhausted")
		return levee.RetryDecision{Err: NewBudgetError(a.Err)}
	}
	if r.listeners.Active() {
		r.listeners.Emit(levee.Event{Kind: levee.EventRetry, Policy: "retry", Name: r.cfg.Name,
			Time: r.clk.Now(), Reason: reason, Wait: delay, Attempt: a.N, Err: a.Err})
	}
	return levee.RetryDecision{Retry: true, Delay: delay}
}

func (r *Retry) info(a levee.Attempt, reason string) {
	if r.listeners.Active() {
		r.listeners.Emit(levee.Event{Kind: levee.EventInfo, Policy: "retry", Name: r.cfg.Name,
			Time: r.clk.Now(), Reason: reason, Attempt: a.N, Err: a.Err})
	}
}

// Wait sleeps for d on the policy's clock. It returns ctx's error at once if
// ctx ends first, interrupting the backoff.
func (r *Retry) Wait(ctx context.Context, d time.Duration) error {
	r.ready()
	if err := ctx.Err(); err != nil {
		return err
	}
	if !clock.Sleep(r.clk, d, ctx.Done()) {
		return ctx.Err()
	}
	return nil
}

// Do runs fn with retries by r alone, as levee.Do would with a pipeline
// holding only r (built once, in [New]). A nil r runs fn once.
func Do[T any](ctx context.Context, r *Retry, fn func(context.Context) (T, error)) (T, error) {
	if r == nil {
		return levee.Do(ctx, nil, fn)
	}
	r.ready()
	return levee.Do(ctx, r.pipe, fn)
}

var _ levee.Retrier = (*Retry)(nil)
