package leveehttp

import (
	"net/http"
)

// A RateLimiter decides requests by key. Adapt a limiter with
// [RateLimiterFunc]; for a ratelimit.Keyed k:
//
//	leveehttp.RateLimiterFunc(func(key string) leveehttp.RateLimitDecision {
//		return leveehttp.RateLimitDecision(k.DecideKey(key))
//	})
type RateLimiter interface {
	LimitKey(key string) RateLimitDecision
}

// RateLimiterFunc adapts a function to [RateLimiter].
type RateLimiterFunc func(key string) RateLimitDecision

// LimitKey calls f(key).
func (f RateLimiterFunc) LimitKey(key string) RateLimitDecision { return f(key) }

// RateLimitOptions configures [RateLimit]. The zero value writes every
// rate-limit field and answers rejections with a plain 429.
type RateLimitOptions struct {
	// Headers chooses the fields written and the policy name.
	Headers RateLimitHeaders
	// SkipHeadersOnSuccess leaves admitted responses without rate-limit
	// fields (rejections always get them).
	SkipHeadersOnSuccess bool
	// Rejected writes the body of a rejection after the status and the
	// fields are set. Nil means [DefaultRejected]. It is called as a
	// handler with the request; the status 429 is written for it, so it
	// must not call WriteHeader.
	Rejected func(w http.ResponseWriter, r *http.Request)
}

// DefaultRejected writes a short plain-text body for a 429.
func DefaultRejected(w http.ResponseWriter, r *http.Request) {
	_, _ = w.Write([]byte("rate limited\n"))
}

// RateLimit returns middleware that asks l about each request under the key
// given by key (nil means one key, "", for all requests). An admitted
// request goes to the next handler with the quota fields set; a rejected one
// gets 429 Too Many Requests with Retry-After and the quota fields, and does
// not reach the next handler.
func RateLimit(l RateLimiter, key func(*http.Request) string, opts RateLimitOptions) func(http.Handler) http.Handler {
	rejected := opts.Rejected
	if rejected == nil {
		rejected = DefaultRejected
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k := ""
			if key != nil {
				k = key(r)
			}
			d := l.LimitKey(k)
			if d.Allowed {
				if !opts.SkipHeadersOnSuccess {
					WriteRateLimitHeaders(w.Header(), d, opts.Headers)
				}
				next.ServeHTTP(w, r)
				return
			}
			h := w.Header()
			WriteRateLimitHeaders(h, d, opts.Headers)
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("X-Content-Type-Options", "nosniff")
			markRefused(w)
			w.WriteHeader(http.StatusTooManyRequests)
			rejected(w, r)
		})
	}
}
