// Package proxy is the gateway's data plane: it compiles a validated
// [config.Config] into an [http.Handler] that forwards each request to an
// upstream.
//
// A request goes through these stages:
//
//   - Route: the routes are tried by priority, highest first, the file's
//     order breaking ties; the first whose match holds (host, path exact,
//     prefix or regex, methods, headers) takes the request. No route: 404.
//   - Body limit: a body longer than the route's max_request_body is
//     refused with 413, before or while it is forwarded.
//   - Fault injection (policies.fault): a delay and an abort, each on its
//     own share of requests (only those carrying fault.header when set);
//     an abort answers with its status and reason fault_abort.
//   - Admission (admit.go), each refusal at once with a problem+json body
//     and, for shedding and concurrency, through the route's fallback when
//     it has one: shedding (shed.go: the criticality from
//     shed.criticality_header or the route's shed.default; with
//     max_in_flight, SHEDDABLE refused first, at max_in_flight requests in
//     flight, SHEDDABLE_PLUS at 1.5 and CRITICAL at 2 times it; with cpu, a
//     BBR-style shedder engaged while the CPU is over it; 503 with
//     Retry-After, reason shed); the rate limit (ratelimit.go: per key, in
//     this gateway or shared through Redis with the on_redis_failure
//     fallback named in [RateLimitFallbackHeader]; RateLimit-Policy and
//     RateLimit on every answer, 429 with Retry-After, reason
//     rate_limited); the concurrency limit (concurrency.go: a bulkhead or
//     an adaptive limit, for the route or per key; 503, reason
//     concurrency_limited).
//   - Breaker: the upstream's breaker, when it has one, admits the request
//     or refuses it at once with 503 and Retry-After. With per_target, each
//     target has its own breaker and a target whose breaker is open is
//     passed over; 503 comes only when every target's is. Every forwarded
//     request settles its admission: a 5xx answer, a transport error or a
//     timeout is a failure; a client that went away is ignored.
//   - Forward, under the route's timeout: a target is picked by the
//     upstream's balancing policy (weighted round robin; least_request,
//     power of two random choices by requests in flight per unit of
//     weight; consistent_hash, weighted rendezvous hashing of a header or
//     cookie, so every gateway sends a key to the same target and a target
//     leaving moves only its own keys), passing over targets that fail
//     their active health checks or are ejected as outliers (after
//     consecutive 5xx or gateway failures, or by the success-rate and
//     failure-percentage checks at the end of each interval; for
//     base_ejection_time × the ejections so far, capped at
//     max_ejection_time, never more than max_ejection_percent of the pool)
//     unless every target is out: then all take requests, as in Envoy's
//     panic mode. The path is stripped or
//     rewritten; Host is kept, or replaced by rewrite.host; hop-by-hop
//     fields are removed; X-Forwarded-For, X-Forwarded-Proto,
//     X-Forwarded-Host and Forwarded are written, extending the peer's own
//     only when the peer is one of the listener's trusted_proxies; the
//     route's request header edits apply. Each upstream has its own pooled, tuned [http.Transport].
//     The upstream is told the time left in Grpc-Timeout and
//     X-Request-Timeout; a shorter budget sent by the client caps the
//     route's timeout.
//   - Call policies, in the route's transport (call.go), outermost first:
//     the fallback (fallback.go: the last good answer to the same GET, the
//     fallback upstream, or the fixed response, when the upstream fails or
//     its breaker refuses), retries (retry.go: idempotent requests or those
//     with the idempotency key, each retry on another target past its
//     breaker, per-try timeout, Retry-After, ratio budget, bodies replayed
//     only when kept), hedging (hedge.go: reads copied to another target
//     after the delay, the loser cancelled). Every attempt settles its own
//     target's breaker and outlier detection, and nothing is retried or
//     hedged once the client has been sent part of an answer.
//   - Answer: the route's response header edits apply; streamed bodies
//     (Server-Sent Events, chunked) are flushed as they come, and Upgrade
//     requests (WebSocket) are passed through.
//
// Every request has an id in X-Request-Id ([RequestIDHeader]): the
// client's when well formed, else a new one; it is sent upstream, answered
// to the client and written in the access log, which has one JSON record
// per request when [Options.AccessLog] is set.
//
// The gateway never answers with a bare status: every answer it makes
// itself (404, 413, 502, 503, 504) has an RFC 9457 problem+json body and
// names its reason in the [ReasonHeader] field (Levee-Reason). An upstream
// that refuses connections, resets them, hangs or answers with something
// that is not HTTP yields 502 or 504, and the gateway goes on serving.
//
// Targets given by host name are resolved at start and every
// resolve_interval (resolve.go), through [Options.Resolver]: each address
// becomes a target of the name's weight; addresses that stay keep their
// state (health, ejection, breaker), new ones join balancing, and gone
// ones leave it while their requests in flight finish. A failed look-up
// keeps the last good addresses.
//
// Configuration fields not listed above (SLOs) are accepted and validated
// but not yet applied by this package.
package proxy
