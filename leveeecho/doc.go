// Package leveeecho applies Levee's policies to Echo (labstack/echo v4)
// handlers, with the semantics of package leveehttp:
//   - [Gate] and [Keyed] admit each request through a gate (breaker, rate
//     limiter, bulkhead, shedder) and report its outcome from the status of
//     the response; [Handler] runs requests through a whole pipeline. A
//     refusal is answered as leveehttp answers it (429 for rate limits, 503
//     for other rejections, 504 for time limits, Retry-After in seconds
//     rounded up, an optional RFC 9457 problem body that never carries the
//     error's text), and the next handler does not run.
//   - [RateLimit] applies a keyed limiter and writes the IETF rate-limit
//     fields ([leveehttp.WriteRateLimitHeaders]).
//   - [Propagate] puts the caller's remaining budget and criticality on the
//     request's context.
//   - [Idempotency] is [leveehttp.Idempotency] for Echo routes.
//   - [KeyRoute] keys requests by Echo's route template (c.Path()), never
//     the raw path, so keyed limits and breakers stay bounded.
//
// Options are leveehttp's own ([leveehttp.Options],
// [leveehttp.RateLimitOptions], [leveehttp.PropagateOptions]).
//
// # Outcomes and errors
//
// An Echo handler may answer by returning an error that Echo's
// HTTPErrorHandler writes after the middleware chain has returned. The
// outcome is then read from the error as Echo's default handler would
// answer it: an *echo.HTTPError's code, else 500. The error itself is
// returned unchanged, so Echo answers as it always does.
//
// # Panics
//
// A panic in a handler is recorded by every gate it passes as a failure,
// then goes on to Echo's Recover middleware (or yours), which answers as it
// always does; put middleware.Recover() first.
//
// Gate and Keyed allocate nothing per admitted request.
package leveeecho
