// Package leveehttp adapts Levee's policies to net/http.
//
// Server side:
//   - [Gate] and [Keyed] admit each request through a gate (breaker, rate
//     limiter, bulkhead, shedder) and report its outcome from the status the
//     handler wrote; [Handler] runs requests through a whole pipeline (gates,
//     time limits, fallbacks). A rejection becomes a well-formed answer:
//     429 for rate limits, 503 for open breakers, shedding and full
//     bulkheads, 504 for time limits, with Retry-After when known
//     ([WriteRejection]), or a response of the caller's choosing.
//   - [Recover] turns a panic into a 500 instead of a dropped connection,
//     logs it with slog and reports it as an event; http.ErrAbortHandler
//     keeps its meaning. [Go] protects goroutines a handler starts.
//   - [Propagate] reads the caller's remaining budget (grpc-timeout or
//     X-Request-Timeout) and criticality into the request's context;
//     [WriteBudget] writes them on outgoing requests, less a safety margin.
//   - [NewServer] returns an http.Server with safe timeouts.
//   - [KeyRoute], [KeyHeader] and [ClientIP] pick keys for keyed gates.
//
// Client side:
//   - [Transport] is an http.RoundTripper that sends each request through a
//     pipeline (one per host with [PerHost]: breaker, retry with budget,
//     hedge, time limit, rate limit, bulkhead). It keeps the RoundTripper
//     contract: statuses are classified ([ClassifyResponse]), never turned
//     into errors; bodies of retried responses are closed; request bodies
//     are replayed only when GetBody allows or they fit MaxBufferedBody;
//     POST and PATCH are not repeated unless allowed or an Idempotency-Key
//     is present; a server's Retry-After reaches the retry policy through
//     [levee.RetryAfter]; the remaining budget and criticality are written
//     on each attempt; httptrace timings (DNS, connect, TLS, first byte,
//     connection reuse) arrive as events.
//   - [NewHTTPTransport] returns an *http.Transport with safe timeouts and
//     pool sizes.
//
// The middleware's ResponseWriter keeps http.Flusher, http.Hijacker,
// io.ReaderFrom and http.Pusher working and unwraps for
// http.ResponseController, so streaming and WebSockets pass through. Gate
// middleware allocates nothing per admitted request.
//
// This package adapts policies through the root package's interfaces only;
// it does not import the policy packages.
package leveehttp
