package levee

import (
	"context"
	"math"
	"time"
)

// Never is a wait that never ends: the [Decision.RetryAfter] of a request no
// wait can cure (more tokens than a limiter's burst), or a time to
// exhaustion that never comes. It is the largest Duration, so it compares
// as longer than any real wait; adapters write no Retry-After for it.
const Never time.Duration = math.MaxInt64

// Decision is a rate limiter's full answer for one request: whether it was
// admitted, and the figures a response's rate-limit header fields need.
// Every limiter in Levee returns it — the local ones in package ratelimit,
// the keyed ones and the Redis-backed one — and the HTTP adapter reads it.
// It is a small value, returned without allocation.
type Decision struct {
	// Allowed reports whether the request was admitted (and its tokens
	// taken).
	Allowed bool
	// Limit is the quota: how many requests may pass at once (the burst of
	// a token bucket or GCRA, the per-window limit of a sliding window).
	// Zero means the limiter has no limit.
	Limit int
	// Remaining is how many more single-token requests would be admitted
	// right now, after this one.
	Remaining int
	// RetryAfter is how long to wait before the same request could be
	// admitted: zero when Allowed, [Never] when no wait would do.
	RetryAfter time.Duration
	// Reset is how long until the quota is whole again (Remaining == Limit)
	// if no more requests come.
	Reset time.Duration
	// Rate and Window are the configured rate, exactly: Rate requests per
	// Window on average, whatever the burst (a limiter configured with
	// 100 per second says Rate 100, Window 1s; a sliding window of 60 per
	// minute says Rate 60, Window 1m). Zero when there is no limit. The
	// HTTP adapter derives the RateLimit-Policy quota and window from them.
	Rate   int
	Window time.Duration
}

// A KeyedGate admits calls per key: a keyed rate limiter, a bulkhead per
// tenant, a breaker per target. AcquireKey is [Gate.Acquire] for one key:
// a refusal matches [ErrRejected]; an admission is a [Permit] to settle once.
type KeyedGate interface {
	AcquireKey(ctx context.Context, key string) (Permit, error)
}

// A KeyedLimiter is a rate limiter that decides per key and reports the
// figures behind each decision, for the rate-limit header fields. The local
// keyed limiter (ratelimit.Keyed) and the Redis-backed one implement it with
// the same meaning: DecideKey takes one token for key if it can. The error
// is not nil only when ctx ended or the limiter could not decide at all; a
// refusal is a Decision with Allowed false. Both also offer
// DecideKeyN(ctx, key, n) for n tokens; leveehttp.RateLimit takes any
// KeyedLimiter and passes it the request's context.
type KeyedLimiter interface {
	KeyedGate
	DecideKey(ctx context.Context, key string) (Decision, error)
}
