// Package leveegin applies Levee's policies to gin handlers, with the
// semantics of package leveehttp:
//   - [Gate] and [Keyed] admit each request through a gate (breaker, rate
//     limiter, bulkhead, shedder) and report its outcome from the status the
//     handler wrote; [Handler] runs requests through a whole pipeline. A
//     refusal is answered as leveehttp answers it (429 for rate limits, 503
//     for other rejections, 504 for time limits, Retry-After in seconds
//     rounded up, an optional RFC 9457 problem body that never carries the
//     error's text) and the chain is aborted.
//   - [RateLimit] applies a keyed limiter and writes the IETF rate-limit
//     fields ([leveehttp.WriteRateLimitHeaders]).
//   - [Propagate] puts the caller's remaining budget and criticality on the
//     request's context.
//   - [Idempotency] is [leveehttp.Idempotency] for gin routes.
//   - [KeyRoute] keys requests by gin's route template (c.FullPath()),
//     never the raw path, so keyed limits and breakers stay bounded.
//
// Options are leveehttp's own ([leveehttp.Options],
// [leveehttp.RateLimitOptions], [leveehttp.PropagateOptions]): one meaning
// per name across adapters.
//
// # Panics
//
// A panic in a handler is recorded by every gate it passes as a failure,
// then goes on unrecovered to gin's own Recovery middleware (or yours),
// which answers as it always does; put gin.Recovery() first. A fault
// injector's panic (a [levee.PanicError] returned by a gate) is raised the
// same way.
//
// # Stacking
//
// A refusal by one Levee middleware is seen by the Levee gates around it,
// which record the request as ignored (a burst of 429s does not open the
// breaker around the limiter), and by leveehttp middleware wrapping the gin
// engine.
//
// Gate and Keyed allocate nothing per admitted request.
package leveegin
