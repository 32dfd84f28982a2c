package leveehttp

import (
	"net/http"
	"strconv"
	"time"

	"github.com/levee-go/levee"
)

// HeaderFields selects the header fields [WriteRateLimitHeaders] writes.
type HeaderFields uint8

// The header fields. Combine them with |.
const (
	// FieldRetryAfter is Retry-After (RFC 9110), in delta-seconds, on
	// rejections only.
	FieldRetryAfter HeaderFields = 1 << iota
	// FieldRateLimit is the IETF RateLimit field: "name";r=remaining;t=reset.
	FieldRateLimit
	// FieldRateLimitPolicy is the IETF RateLimit-Policy field:
	// "name";q=quota;w=window.
	FieldRateLimitPolicy
	// FieldXRateLimit is the legacy trio X-RateLimit-Limit,
	// X-RateLimit-Remaining and X-RateLimit-Reset (delta-seconds).
	FieldXRateLimit

	// FieldsIETF is Retry-After with the IETF fields.
	FieldsIETF = FieldRetryAfter | FieldRateLimit | FieldRateLimitPolicy
	// FieldsAll is every field.
	FieldsAll = FieldsIETF | FieldXRateLimit
)

// DefaultPolicyName names the quota policy in the IETF fields when
// [RateLimitHeaders.Policy] is empty.
const DefaultPolicyName = "default"

// RateLimitHeaders says how rate-limit decisions are written. The zero value
// writes every field for a policy named "default".
type RateLimitHeaders struct {
	// Policy names the quota policy in RateLimit-Policy and RateLimit.
	// Empty means [DefaultPolicyName]. Characters a structured-field string
	// cannot hold (control and non-ASCII bytes) are replaced with '_'.
	Policy string
	// Fields selects the fields to write. Zero means [FieldsAll].
	Fields HeaderFields
}

// Header field names, in canonical form.
const (
	headerRetryAfter      = "Retry-After"
	headerRateLimit       = "Ratelimit"
	headerRateLimitPolicy = "Ratelimit-Policy"
	headerXLimit          = "X-Ratelimit-Limit"
	headerXRemaining      = "X-Ratelimit-Remaining"
	headerXReset          = "X-Ratelimit-Reset"
)

// WriteRateLimitHeaders sets the rate-limit fields of d on h, as chosen by
// opts: on every response the quota and what is left of it, and on a
// rejection Retry-After. Middleware and the gateway call it before writing
// the status. It does nothing for a decision with no limit (Limit <= 0)
// except for Retry-After.
//
// Retry-After and the reset values are whole seconds rounded up, so a
// client that waits them is never early, and never 0 while a wait is due.
func WriteRateLimitHeaders(h http.Header, d levee.Decision, opts RateLimitHeaders) {
	fields := opts.Fields
	if fields == 0 {
		fields = FieldsAll
	}
	retry := fields&FieldRetryAfter != 0 && !d.Allowed && d.RetryAfter > 0 && d.RetryAfter != levee.Never
	if d.Limit <= 0 {
		fields &^= FieldRateLimit | FieldRateLimitPolicy | FieldXRateLimit
	}
	if !retry && fields&(FieldRateLimit|FieldRateLimitPolicy|FieldXRateLimit) == 0 {
		return
	}
	// Every value is a substring of one buffer and every field's []string a
	// slice of one array: two allocations per response, whatever the fields.
	var buf [256]byte
	b := buf[:0]
	type span struct {
		key        string
		start, end int
	}
	var spans [6]span
	n := 0
	add := func(key string, start int) {
		spans[n] = span{key, start, len(b)}
		n++
	}
	if retry {
		start := len(b)
		b = strconv.AppendInt(b, ceilSeconds(d.RetryAfter), 10)
		add(headerRetryAfter, start)
	}
	remaining := int64(max(d.Remaining, 0))
	reset := ceilSeconds(d.Reset)
	if fields&FieldRateLimitPolicy != 0 {
		start := len(b)
		b = appendPolicyName(b, opts.Policy)
		b = append(b, ";q="...)
		b = strconv.AppendInt(b, int64(d.Limit), 10)
		if d.Window > 0 {
			b = append(b, ";w="...)
			b = strconv.AppendInt(b, ceilSeconds(d.Window), 10)
		}
		add(headerRateLimitPolicy, start)
	}
	if fields&FieldRateLimit != 0 {
		start := len(b)
		b = appendPolicyName(b, opts.Policy)
		b = append(b, ";r="...)
		b = strconv.AppendInt(b, remaining, 10)
		b = append(b, ";t="...)
		b = strconv.AppendInt(b, reset, 10)
		add(headerRateLimit, start)
	}
	if fields&FieldXRateLimit != 0 {
		start := len(b)
		b = strconv.AppendInt(b, int64(d.Limit), 10)
		add(headerXLimit, start)
		start = len(b)
		b = strconv.AppendInt(b, remaining, 10)
		add(headerXRemaining, start)
		start = len(b)
		b = strconv.AppendInt(b, reset, 10)
		add(headerXReset, start)
	}
	all := string(b)
	vals := make([]string, n)
	for i, sp := range spans[:n] {
		vals[i] = all[sp.start:sp.end]
		h[sp.key] = vals[i : i+1 : i+1]
	}
}

// ceilSeconds rounds d up to whole seconds: 0 stays 0, 1ns becomes 1.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// appendPolicyName appends name as a structured-field string ("default"
// for "").
func appendPolicyName(b []byte, name string) []byte {
	if name == "" {
		name = DefaultPolicyName
	}
	b = append(b, '"')
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c > 0x7e:
			b = append(b, '_')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
