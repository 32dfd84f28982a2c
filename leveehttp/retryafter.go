package leveehttp

import (
	"net/http"
	"strings"
	"time"
)

// DefaultMaxRetryAfter caps the waits read from a server's Retry-After and
// RateLimit fields when the caller gives no cap: a server (or anything in
// between) must not be able to park a client for hours with one header.
const DefaultMaxRetryAfter = 5 * time.Minute

// ParseRetryAfter reads a Retry-After value (RFC 9110 §10.2.3): either
// delta-seconds ("120") or an HTTP-date ("Fri, 31 Dec 1999 23:59:59 GMT"),
// the latter measured from now. The wait is capped at limit (zero or
// negative means [DefaultMaxRetryAfter]); a date in the past is a wait of
// zero. ok is false, and the wait zero, for anything else: negative or
// fractional numbers, signs, garbage, empty values.
func ParseRetryAfter(v string, now time.Time, limit time.Duration) (wait time.Duration, ok bool) {
	if limit <= 0 {
		limit = DefaultMaxRetryAfter
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		// Compare in seconds before multiplying so no value overflows.
		var secs int64
		for i := 0; i < len(v); i++ {
			secs = secs*10 + int64(v[i]-'0')
			if time.Duration(secs) > limit/time.Second {
				return limit, true
			}
		}
		return min(time.Duration(secs)*time.Second, limit), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d <= 0 {
		return 0, true
	}
	return min(d, limit), true
}

// RetryAfterHeader reads the Retry-After field of h with [ParseRetryAfter]:
// the first value only, as a repeated field is malformed.
func RetryAfterHeader(h http.Header, now time.Time, limit time.Duration) (time.Duration, bool) {
	v := h.Values(headerRetryAfter)
	if len(v) == 0 {
		return 0, false
	}
	return ParseRetryAfter(v[0], now, limit)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}
