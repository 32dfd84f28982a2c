package levee

import (
	"context"
	"errors"
	"time"

	"github.com/levee-go/levee/clock"
)

// ErrRejected is matched by every rejection a Levee policy makes: a call that
// was not started because a gate refused it. Adapters turn it into 429 or 503;
// retries do not retry it unless told to.
var ErrRejected = errors.New("levee: rejected")

// Specific rejections. Each matches [ErrRejected] as well as itself.
var (
	// ErrOpen: a circuit breaker is open (or half-open with its probes taken).
	ErrOpen error = &rejection{"levee: circuit breaker open"}
	// ErrLimited: a rate limiter refused the call.
	ErrLimited error = &rejection{"levee: rate limited"}
	// ErrBulkheadFull: every concurrency slot is taken and the queue is full
	// or the wait for a slot ran out.
	ErrBulkheadFull error = &rejection{"levee: bulkhead full"}
	// ErrShed: a load shedder or an adaptive concurrency limit refused the call.
	ErrShed error = &rejection{"levee: load shed"}
	// ErrBudgetExhausted: a retry or hedge was not made because its budget
	// is spent.
	ErrBudgetExhausted error = &rejection{"levee: retry budget exhausted"}
)

// ErrTimeout is returned when a Levee time limit, not the caller, ended the
// call. It matches [context.DeadlineExceeded] so code that checks for the
// standard error keeps working, but it does not match [ErrRejected]: the call
// was started and the dependency was too slow.
var ErrTimeout error = timeoutError{}

type rejection struct{ msg string }

func (e *rejection) Error() string        { return e.msg }
func (e *rejection) Is(target error) bool { return target == ErrRejected }

type timeoutError struct{}

func (timeoutError) Error() string        { return "levee: time limit exceeded" }
func (timeoutError) Timeout() bool        { return true }
func (timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// RetryAfter reports how long the caller should wait before trying again, for
// errors that know it: rejections made by [Reject] and [RejectUntil], and any
// error in the chain with a method RetryAfter() time.Duration. A wait that has
// already passed is reported as zero with ok true.
func RetryAfter(err error) (wait time.Duration, ok bool) {
	var ra interface{ RetryAfter() time.Duration }
	if !errors.As(err, &ra) {
		return 0, false
	}
	return max(ra.RetryAfter(), 0), true
}

// Reject returns a rejection of the given kind (one of the Err sentinels, or
// any error) that asks the caller to come back after wait. The result matches
// kind and [ErrRejected] with [errors.Is].
func Reject(kind error, wait time.Duration) error {
	return &RejectionError{Kind: kind, Wait: wait}
}

// RejectUntil returns a rejection whose [RetryAfter] counts down to deadline,
// a [clock.Clock.Nanotime] reading of c. A policy makes one when it starts
// rejecting (a breaker when it opens) and returns the same value to every
// caller until the deadline, so rejecting costs no allocation.
func RejectUntil(kind error, c clock.Clock, deadline int64) error {
	return &RejectionError{Kind: kind, clk: clock.Or(c), deadline: deadline}
}

// RejectionError is a rejection that knows when to come back.
type RejectionError struct {
	// Kind is the sentinel the rejection matches, such as [ErrOpen].
	Kind error
	// Wait is a fixed retry-after, used when the rejection was not made by
	// [RejectUntil].
	Wait time.Duration

	clk      clock.Clock
	deadline int64
}

// Error returns the kind's message.
func (e *RejectionError) Error() string {
	if e.Kind == nil {
		return ErrRejected.Error()
	}
	return e.Kind.Error()
}

// Unwrap returns the kind, so errors.Is matches it and ErrRejected.
func (e *RejectionError) Unwrap() error {
	if e.Kind == nil {
		return ErrRejected
	}
	return e.Kind
}

// RetryAfter returns the time left until the caller may try again.
func (e *RejectionError) RetryAfter() time.Duration {
	if e.clk != nil {
		return max(time.Duration(e.deadline-e.clk.Nanotime()), 0)
	}
	return e.Wait
}
