// Package retry makes another attempt when a call fails: backoff with
// jitter, attempt limits, retry budgets and server pushback.
//
// A [Retry] is a [github.com/levee-go/levee.Retrier]: placed in a pipeline
// it sits outside breakers and limits (stage [github.com/levee-go/levee.StageRetry]),
// and the pipeline runs the loop without allocating. [Do] runs a function
// with a Retry alone.
//
// What is retried is decided by the pipeline's classifier: failures are
// retried, successes and ignored outcomes (a cancelled context, an error
// marked with levee.Ignore) are not, and rejections by the pipeline's own
// gates are not unless [Config.RetryRejections] says so. [Config.RetryIf]
// can veto more.
//
// The delay is [Exponential] or [Constant] backoff, capped, with full, equal
// or decorrelated [Jitter]. An error may ask for a longer delay through
// [github.com/levee-go/levee.RetryAfter] (a rejection that knows when to come
// back, an HTTP Retry-After, a gRPC pushback): the longer delay is used, up
// to [Config.MaxRetryAfter]. An error may also forbid retrying: one that
// matches [ErrNoRetry] (see [NoRetry]), or one whose RetryAfter method
// returns a negative duration, the convention transport adapters use for a
// gRPC "do not retry" pushback.
//
// A cancelled or expired context stops the loop at once, even in the middle
// of a backoff, and by default no retry is started whose delay would reach
// the context's deadline.
//
// A [Budget] shared by every caller of one dependency keeps retries from
// multiplying load during an outage: [TokenBudget] is gRPC's retry
// throttling, [RatioBudget] allows retries up to a share of recent calls.
// When a budget stops a retry the call returns a [*BudgetError], which
// matches both [github.com/levee-go/levee.ErrBudgetExhausted] and the last
// attempt's error.
package retry
