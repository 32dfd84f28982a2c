// Package levee is the execution model shared by every Levee policy.
//
// Levee keeps Go services standing when their dependencies fail and their
// traffic floods. Its policies live in their own packages (breaker,
// ratelimit, concurrency, shed, retry, hedge, timelimit, fallback, chaos);
// this package defines how they fit together:
//
//   - A [Gate] decides whether a call may start and learns how it ended,
//     through a [Permit] returned by value: admit → run → record, with no
//     heap allocation.
//   - A [Retrier], [Scoper], [Fallback] or [Wrapper] changes the control flow
//     around a call.
//   - A [Pipeline] composes policies once; [Do] runs a typed
//     func(context.Context) (T, error) through it, any number of times, from
//     any number of goroutines.
//
// Every call ends in an [Outcome]: success, failure or ignored, decided by a
// [Classifier]. A panic in the call is recovered, recorded as a failure with
// its stack, and re-raised (or returned, see [Config.ReturnPanics]).
//
// Rejections are values: every one matches [ErrRejected] and a specific
// sentinel such as [ErrOpen] or [ErrLimited], and [RetryAfter] tells when to
// come back. Policies report what they do as [Event] values to [Listener]s.
// Every policy takes its time from a [github.com/levee-go/levee/clock.Clock].
package levee
