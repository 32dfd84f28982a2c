// Package leveehttp adapts Levee's policies to net/http.
//
// Server side:
//   - [Gate] and [Keyed] admit each request through a gate (breaker, rate
//     limiter, bulkhead, shedder) and report its outcome from the status the
//     handler wrote; [Handler] runs requests through a whole pipeline (gates,
//     time limits, fallbacks). A rejection becomes a well-formed answer:
//     429 for rate limits, 503 for open breakers, shedding and full
//     bulkheads, 504 for time limits ([StatusFor], from [levee.StatusOf]),
//     with Retry-After when known, in seconds rounded up, and a body that
//     says the refusal's kind and wait but never the error's text
//     ([WriteRejection]), or a response of the caller's choosing.
//   - [Recover] turns a panic into a 500 instead of a dropped connection,
//     logs it with slog and reports it as an event; a panic after the
//     header went out aborts the response, so the client sees the
//     truncation; http.ErrAbortHandler keeps its meaning. [Go] protects
//     goroutines a handler starts.
//   - [Propagate] reads the caller's remaining budget (grpc-timeout or
//     X-Request-Timeout) and criticality into the request's context;
//     [WriteBudget] writes them on outgoing requests, less a safety margin.
//   - [Idempotency] makes retried POST and PATCH requests safe with the
//     Idempotency-Key header: the first runs and its response is stored
//     and replayed to retries; 409 while it runs, 422 for another payload
//     under the same key, 400 where a required key is missing. The store is
//     an [IdempotencyStore]: [IdempotencyMemory] in the process, or
//     redislimit's in Redis.
//   - [NewServer] returns an http.Server with safe timeouts.
//   - [KeyRoute], [KeyHeader] and [ClientIP] pick keys for keyed gates;
//     ClientIP{}.Key is the one client-address key (the connection's
//     peer), ClientIP{TrustedProxies: ...}.Key the client behind proxies.
//
// Client side:
//   - [Transport] is an http.RoundTripper that sends each request through a
//     pipeline (one per host with [PerHost], whose [Hosts] reaches them
//     for health checks: breaker, retry with budget,
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
// # Stacked middleware
//
// Levee middleware stacks in any order ([Gate] around [Gate], a [Handler]
// pipeline, [RateLimit]): a refusal written by one of them (a 429 or 503) is
// marked on the shared ResponseWriter, and every Levee gate around it
// records the request as ignored, so a burst refused by a rate limiter does
// not open the breaker around it. The mark reaches outer middleware through
// wrappers of other packages that have an Unwrap method. An injected
// fault's answer ([levee.Fault]) is not marked: it stands for a failing
// dependency, and outer breakers are meant to see it.
//
// # Rate-limit responses
//
// A rejected request becomes 429 Too Many Requests carrying when to come
// back and what the quota is. [WriteRateLimitHeaders] writes, as chosen by
// [RateLimitHeaders]:
//
//	Retry-After: 3                               (rejections; delta-seconds, rounded up, never 0 while a wait is due)
//	RateLimit-Policy: "default";q=100;w=60       (IETF draft-ietf-httpapi-ratelimit-headers-10)
//	RateLimit: "default";r=0;t=3
//	X-RateLimit-Limit: 100                       (legacy, only with FieldXRateLimit; Reset in delta-seconds)
//	X-RateLimit-Remaining: 0
//	X-RateLimit-Reset: 3
//
// q/w is the configured rate exactly (q requests per w seconds), r what
// may be sent now (up to the burst) and t the seconds until that is whole
// again. Admitted responses carry the same fields without Retry-After.
//
// [RateLimit] is middleware that applies a [levee.KeyedLimiter]
// (ratelimit.Keyed, redislimit.Limiter) to requests and writes those
// fields; the request's context reaches the limiter:
//
//	keyed, _ := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: ratelimit.PerMinute(100)})
//	handler = leveehttp.RateLimit(keyed, leveehttp.ClientIP{}.Key, leveehttp.RateLimitOptions{})(handler)
//
// # Reading them as a client
//
// [ParseRetryAfter] reads both forms of Retry-After (delta-seconds and
// HTTP-date); [ParseRateLimit] and [ParseRateLimitPolicy] read the IETF
// fields. Waits read from a server are capped ([DefaultMaxRetryAfter], five
// minutes, unless the caller gives another cap), and malformed values are
// reported as absent rather than guessed at.
//
// # Fault injection
//
// A fault injector used as a gate in [Gate], [Keyed] or a [Handler]
// pipeline acts on the server through the root package only: an injected
// answer (a [levee.Fault], such as chaos.StatusError) becomes a response
// with its status ([StatusFor], from [levee.StatusOf]), and an injected
// panic, which the injector
// returns as a [*levee.PanicError], is raised with its value as the
// handler's own would be, so [Recover] answers 500, logs and reports it. In
// a [Transport] an injected status is returned as the error it is; no
// response is made up.
//
// This package adapts policies through the root package's interfaces only;
// it does not import the policy packages.
package leveehttp
