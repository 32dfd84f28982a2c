// Package timelimit bounds how long a call may take, through context
// deadlines: the call's work is cancelled when its time is up, never left
// running in an abandoned goroutine.
//
// A [Timelimit] is a [github.com/levee-go/levee.Scoper]. By default it is a
// per-attempt limit: its stage, [github.com/levee-go/levee.StageTimeout],
// puts it inside retry, hedge and the gates, so each attempt gets the full
// limit. A total limit for a call and all its retries is the same policy
// with [Config.Total] set: its stage, [StageTotal], puts it outside retry
// and hedge but inside fallback, so a fallback can still answer a call that
// ran out of time. Use both in one pipeline for the usual pair.
//
// A limit that ends the call is reported as a [*TimeoutError], which
// matches [github.com/levee-go/levee.ErrTimeout] and
// [context.DeadlineExceeded]. The caller's own cancellation or deadline is
// returned as it is, so callers can tell "the dependency was too slow" from
// "I gave up": the limit's deadline is set with context.WithTimeoutCause and
// recognised by its cause.
//
// [Remaining] reads the time left on a context, for adapters that pass the
// deadline on to the next hop (grpc-timeout, a request header).
package timelimit
