// Package leveehttp adapts Levee to net/http.
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
//	X-RateLimit-Limit: 100                       (legacy; Reset in delta-seconds)
//	X-RateLimit-Remaining: 0
//	X-RateLimit-Reset: 3
//
// q is the limiter's quota (the burst of a token bucket or GCRA, the limit
// of a sliding window), w the period it covers, r what is left and t the
// seconds until the quota is whole again. Admitted responses carry the
// same fields without Retry-After.
//
// [RateLimit] is middleware that applies a keyed limiter to requests and
// writes those fields. To keep adapters free of policy packages it takes a
// [RateLimiter], whose decision type [RateLimitDecision] has the fields of
// ratelimit.Decision so that a conversion adapts one to the other:
//
//	keyed, _ := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: ratelimit.PerMinute(100)})
//	limiter := leveehttp.RateLimiterFunc(func(key string) leveehttp.RateLimitDecision {
//		return leveehttp.RateLimitDecision(keyed.DecideKey(key))
//	})
//	handler = leveehttp.RateLimit(limiter, leveehttp.RemoteIP, leveehttp.RateLimitOptions{})(handler)
//
// # Reading them as a client
//
// [ParseRetryAfter] reads both forms of Retry-After (delta-seconds and
// HTTP-date); [ParseRateLimit] and [ParseRateLimitPolicy] read the IETF
// fields. Waits read from a server are capped ([DefaultMaxRetryAfter], five
// minutes, unless the caller gives another cap), and malformed values are
// reported as absent rather than guessed at.
package leveehttp
