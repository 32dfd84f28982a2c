package leveehttp

import (
	"errors"
	"net/http"

	"github.com/levee-go/levee"
)

// RateLimitOptions configures [RateLimit]. The zero value writes the IETF
// rate-limit fields and Retry-After, answers rejections with a plain 429
// and a failed decision with a plain 503.
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
	// FailOpen lets a request through, without rate-limit fields, when its
	// decision fails (DecideKey returned an error: the request's context
	// ended, or a remote limiter could not be reached and has no
	// fallback). False answers it with 503 Service Unavailable instead.
	FailOpen bool
}

var errNoLimiter = errors.New("leveehttp: RateLimit has a nil limiter")

// DefaultRejected writes a short plain-text body for a 429.
func DefaultRejected(w http.ResponseWriter, r *http.Request) {
	_, _ = w.Write([]byte("rate limited\n"))
}

// RateLimit returns middleware that asks l about each request under the key
// given by key (nil means one key, "", for all requests), passing the
// request's context to [levee.KeyedLimiter.DecideKey] so that its deadline
// bounds a remote limiter's round trip. l is a ratelimit.Keyed, a
// redislimit.Limiter or any other [levee.KeyedLimiter].
//
// An admitted request goes to the next handler with the quota fields set; a
// rejected one gets 429 Too Many Requests with Retry-After and the quota
// fields, and does not reach the next handler. When the decision fails
// (DecideKey returns an error: the request's context ended first, or the
// limiter could not decide at all), the request gets 503 Service
// Unavailable with the body "rate limit unavailable" and no rate-limit
// fields, or goes through untouched with [RateLimitOptions.FailOpen].
//
// A nil l cannot decide: every request is answered as a failed decision.
//
// Several RateLimit middlewares may be stacked (a per-client and a global
// limit, say): each adds its policy to the RateLimit-Policy and RateLimit
// lists (see [WriteRateLimitHeaders]), so give each its own
// [RateLimitHeaders.Policy] name.
func RateLimit(l levee.KeyedLimiter, key func(*http.Request) string, opts RateLimitOptions) func(http.Handler) http.Handler {
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
			d, err := levee.Decision{}, errNoLimiter
			if l != nil {
				d, err = l.DecideKey(r.Context(), k)
			}
			if err != nil {
				if opts.FailOpen {
					next.ServeHTTP(w, r)
					return
				}
				h := w.Header()
				h.Set("Content-Type", "text/plain; charset=utf-8")
				h.Set("X-Content-Type-Options", "nosniff")
				markRefused(w)
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("rate limit unavailable\n"))
				return
			}
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
