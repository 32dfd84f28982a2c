package levee

import (
	"context"
	"time"
)

// Policy is anything that can sit in a [Pipeline]. Besides Stage, a policy
// implements exactly one of the execution protocols the pipeline knows:
// [Gate], [Retrier], [Scoper], [Fallback] or [Wrapper].
type Policy interface {
	// Stage says where the policy goes in a pipeline built in the default
	// order.
	Stage() Stage
}

// Stage orders policies in a pipeline built by [New]: lower stages wrap
// higher ones, so the default order, outermost first, is
// fallback → retry → hedge → breaker → rate limit / shed → bulkhead /
// adaptive limit → timeout → fault injection → the call.
type Stage int

// The default stages. Custom policies may use values in between.
const (
	StageFallback    Stage = 100
	StageRetry       Stage = 200
	StageHedge       Stage = 250
	StageBreaker     Stage = 300
	StageLimit       Stage = 400
	StageConcurrency Stage = 500
	StageTimeout     Stage = 600
	StageChaos       Stage = 700
)

// A Gate decides whether a call may start, and learns how it ended. Breakers,
// rate limiters, bulkheads, adaptive limits and shedders are gates.
//
// Acquire either refuses the call with a rejection (an error matching
// [ErrRejected]) or admits it with a [Permit], which the caller must settle
// exactly once with [Permit.Record] or [Permit.Done] when the call ends.
// Gates admit and settle without heap allocation, so a middleware made only
// of gates costs none.
type Gate interface {
	Policy
	Acquire(ctx context.Context) (Permit, error)
}

// A Releaser settles permits; it is the gate side of [Permit]. Only gates
// implement it, and only [Permit] calls it.
type Releaser interface {
	Release(p Permit, o Outcome)
}

// Permit is a gate's admission of one call. It is a small value: pass it by
// value and settle it once. The zero Permit settles to nothing, for gates
// that need no report.
type Permit struct {
	r     Releaser
	token uint64
	start int64
}

// NewPermit is for gate implementations: token is the gate's own
// bookkeeping (a generation, a slot), start an admission time on the gate's
// clock ([clock.Clock.Nanotime]) or zero when the gate does not measure
// latency.
func NewPermit(r Releaser, token uint64, start int64) Permit {
	return Permit{r: r, token: token, start: start}
}

// Token returns the gate's bookkeeping value given to [NewPermit].
func (p Permit) Token() uint64 { return p.token }

// Start returns the admission time given to [NewPermit].
func (p Permit) Start() int64 { return p.start }

// Record settles the permit with an outcome.
func (p Permit) Record(o Outcome) {
	if p.r != nil {
		p.r.Release(p, o)
	}
}

// Done settles the permit with the outcome [DefaultClassifier] gives err.
func (p Permit) Done(err error) {
	if p.r != nil {
		p.r.Release(p, Outcome{Result: DefaultClassifier(err), Err: err})
	}
}

// Attempt describes one finished attempt to a [Retrier].
type Attempt struct {
	// N is the attempt's number, starting at 1.
	N int
	// Err is what the attempt returned and Result its classification.
	Err    error
	Result Result
	// Delay is the wait that preceded this attempt (zero for the first).
	Delay time.Duration
}

// RetryDecision is a [Retrier]'s answer after an attempt.
type RetryDecision struct {
	// Retry asks for another attempt after Delay.
	Retry bool
	Delay time.Duration
	// Err, when Retry is false and Err is not nil, replaces the attempt's
	// error (for example to say the budget was exhausted).
	Err error
}

// A Retrier runs the call again after failures. The pipeline runs the loop:
// after every attempt, successful or not, it asks Attempted what to do, and
// waits with Wait. Keeping the loop in the pipeline is what lets retries run
// without allocating.
type Retrier interface {
	Policy
	Attempted(ctx context.Context, a Attempt) RetryDecision
	// Wait sleeps for d on the retrier's clock; it returns ctx's error at
	// once if ctx ends first.
	Wait(ctx context.Context, d time.Duration) error
}

// A Scoper runs the inner call in a derived context, such as one with a
// deadline. Enter derives the context; Exit sees the inner call's error and
// may replace it (a deadline that the scoper set becomes [ErrTimeout]); the
// pipeline then calls the cancel function.
type Scoper interface {
	Policy
	Enter(ctx context.Context) (context.Context, context.CancelFunc)
	Exit(parent, scoped context.Context, err error) error
}

// A Fallback sees every result of the inner call, successful or not, and
// returns what the caller gets: the result itself, or a replacement. T must
// match the type of the call the pipeline runs; [Do] returns an error when it
// does not.
type Fallback[T any] interface {
	Policy
	Fallback(ctx context.Context, v T, err error) (T, error)
}

// A Wrapper is the general protocol: it controls the rest of the pipeline
// through next, and may call it several times, concurrently (hedging). It is
// the one protocol that allocates per call; the common policies use the
// others.
type Wrapper interface {
	Policy
	Execute(ctx context.Context, next Next) (any, error)
}

// Next runs the rest of a pipeline for a [Wrapper].
type Next struct {
	p  *Pipeline
	fn any // the call, a func(context.Context) (T, error)
	i  int
	// r runs the rest for the pipeline's T. It is an empty struct, so a
	// Next costs no allocation.
	r nextRunner
}

type nextRunner interface {
	runFrom(ctx context.Context, p *Pipeline, i int, fn any) (any, error)
}

// Run runs the rest of the pipeline and the call. The result is the call's
// value (of the pipeline's type) to hand back from Execute. The zero Next,
// which no pipeline gives, returns [ErrZeroNext].
func (n Next) Run(ctx context.Context) (any, error) {
	if n.r == nil {
		return nil, ErrZeroNext
	}
	return n.r.runFrom(ctx, n.p, n.i, n.fn)
}
