package leveehttp

import (
	"math/bits"
	"net/http"
	"strconv"
	"strings"
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
	// "name";q=quota;w=window, q/w being the configured rate.
	FieldRateLimitPolicy
	// FieldXRateLimit is the legacy trio X-RateLimit-Limit,
	// X-RateLimit-Remaining and X-RateLimit-Reset (delta-seconds). It is
	// written only when asked for (FieldsAll, or FieldsIETF|FieldXRateLimit),
	// for clients that predate the IETF fields.
	FieldXRateLimit

	// FieldsIETF is Retry-After with the IETF fields: what a zero
	// [RateLimitHeaders.Fields] writes.
	FieldsIETF = FieldRetryAfter | FieldRateLimit | FieldRateLimitPolicy
	// FieldsAll is every field.
	FieldsAll = FieldsIETF | FieldXRateLimit
)

// DefaultPolicyName names the quota policy in the IETF fields when
// [RateLimitHeaders.Policy] is empty.
const DefaultPolicyName = "default"

// RateLimitHeaders says how rate-limit decisions are written. The zero value
// writes Retry-After and the IETF fields (not the legacy X-RateLimit-*
// ones) for a policy named "default".
type RateLimitHeaders struct {
	// Policy names the quota policy in RateLimit-Policy and RateLimit.
	// Empty means [DefaultPolicyName]. When the fields already hold a policy
	// of that name (another limiter's, written earlier on the same
	// response), -2, -3 … is added, so every member names one limiter; give
	// stacked limiters names of their own. Characters a structured-field string
	// cannot hold (control and non-ASCII bytes) are replaced with '_'.
	Policy string
	// Fields selects the fields to write. Zero means [FieldsIETF]; add
	// [FieldXRateLimit] (or use [FieldsAll]) for the legacy fields.
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
// except for Retry-After, and writes no Retry-After for [levee.Never].
//
// RateLimit-Policy's q and w are the configured rate, d.Rate per d.Window,
// exactly: q/w equals the rate for every rate and burst. w must be whole
// seconds, so a window that is not is scaled with q (2 per 1.5s is
// q=4;w=3); a rate no pair of 15-digit integers can express exactly (or a
// decision without Rate) gets no RateLimit-Policy rather than a wrong one.
// The burst is not part of the policy: it shows in RateLimit's r, the
// requests that may be sent now (up to the burst, which may be more or less
// than q), and t, the seconds until that many are available again; the
// legacy X-RateLimit-Limit is the burst (the largest r).
//
// RateLimit-Policy and RateLimit are lists: when h already holds another
// limiter's members (stacked middleware), this policy is added to each list
// under a distinct name (see [RateLimitHeaders.Policy]), and both limits
// reach the client. Retry-After and the legacy X-RateLimit-* fields hold
// one value: the last limiter to write them sets them.
//
// Retry-After and the reset values are whole seconds rounded up, so a
// client that waits them is never early, and never 0 while a wait is due.
func WriteRateLimitHeaders(h http.Header, d levee.Decision, opts RateLimitHeaders) {
	fields := opts.Fields
	if fields == 0 {
		fields = FieldsIETF
	}
	retry := fields&FieldRetryAfter != 0 && !d.Allowed && d.RetryAfter > 0 && d.RetryAfter != levee.Never
	if d.Limit <= 0 {
		fields &^= FieldRateLimit | FieldRateLimitPolicy | FieldXRateLimit
	}
	if !retry && fields&(FieldRateLimit|FieldRateLimitPolicy|FieldXRateLimit) == 0 {
		return
	}
	policy := opts.Policy
	if policy == "" {
		policy = DefaultPolicyName
	}
	stacked := fields&(FieldRateLimit|FieldRateLimitPolicy) != 0 &&
		(len(h[headerRateLimitPolicy]) > 0 || len(h[headerRateLimit]) > 0)
	if stacked {
		policy = distinctPolicyName(h, policy)
	}
	// Every value is a substring of one buffer and every field's []string a
	// slice of one array: two allocations per response, whatever the fields
	// (more only when the list fields already hold another policy).
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
	if q, w, ok := policyQuota(d.Rate, d.Window); ok && fields&FieldRateLimitPolicy != 0 {
		start := len(b)
		b = appendPolicyName(b, policy)
		b = append(b, ";q="...)
		b = strconv.AppendUint(b, q, 10)
		b = append(b, ";w="...)
		b = strconv.AppendUint(b, w, 10)
		add(headerRateLimitPolicy, start)
	}
	if fields&FieldRateLimit != 0 {
		start := len(b)
		b = appendPolicyName(b, policy)
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
		if old := h[sp.key]; stacked && len(old) > 0 && (sp.key == headerRateLimitPolicy || sp.key == headerRateLimit) {
			// A list field set by another limiter: add this policy as a
			// member, on one line so that Header.Get sees every member.
			h[sp.key] = []string{strings.Join(old, ", ") + ", " + vals[i]}
			continue
		}
		h[sp.key] = vals[i : i+1 : i+1]
	}
}

// distinctPolicyName returns name, or name-2, name-3 … if a policy of that
// name is already in h's RateLimit-Policy or RateLimit list, so that each
// member names one limiter.
func distinctPolicyName(h http.Header, name string) string {
	taken := map[string]bool{}
	for _, key := range []string{headerRateLimitPolicy, headerRateLimit} {
		for _, v := range h[key] {
			members, err := parseList(v)
			if err != nil {
				continue
			}
			for _, m := range members {
				if s, ok := m.value.(sfString); ok {
					taken[sanitizePolicyName(string(s))] = true
				}
			}
		}
	}
	if !taken[sanitizePolicyName(name)] {
		return name
	}
	for i := 2; ; i++ {
		if n := name + "-" + strconv.Itoa(i); !taken[sanitizePolicyName(n)] {
			return n
		}
	}
}

// sanitizePolicyName is name as appendPolicyName writes it, unquoted.
func sanitizePolicyName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '_'
		}
	}
	return string(b)
}

// maxSFInteger is the largest Integer a structured field can carry (RFC
// 9651: at most 15 digits).
const maxSFInteger = 999_999_999_999_999

// policyQuota returns the RateLimit-Policy quota q and window w (whole
// seconds) whose ratio is exactly rate per window, or ok false when there
// is no such pair of structured-field Integers (or no rate). It prefers the
// configured figures (60 per minute is q=60;w=60; 100 per second q=100;w=1)
// and scales them only as far as the window needs to become whole seconds
// (2 every 1.5s is q=4;w=3, 10 per 100ms q=100;w=1); if that overflows it
// tries the reduced fraction.
func policyQuota(rate int, window time.Duration) (q, w uint64, ok bool) {
	if rate <= 0 || window <= 0 {
		return 0, 0, false
	}
	// rate/window per nanosecond = rate·1e9/window per second.
	const sec = uint64(time.Second)
	g := gcd(sec, uint64(window))
	hi, lo := bits.Mul64(uint64(rate), sec/g)
	if q, w = lo, uint64(window)/g; hi == 0 && q <= maxSFInteger && w <= maxSFInteger {
		return q, w, true
	}
	// Reduced: r·1e9/window with gcd(r, window) and gcd(1e9, window) out.
	r, win := uint64(rate), uint64(window)
	g = gcd(r, win)
	r, win = r/g, win/g
	g = gcd(sec, win)
	hi, lo = bits.Mul64(r, sec/g)
	if q, w = lo, win/g; hi == 0 && q <= maxSFInteger && w <= maxSFInteger {
		return q, w, true
	}
	return 0, 0, false
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// ceilSeconds rounds d up to whole seconds as [levee.WaitUnits] does for
// every wait told to a client: 0 stays 0, 1ns becomes 1. A wait no number
// can say (negative, or [levee.Never], which callers keep out of
// Retry-After) reads 0.
func ceilSeconds(d time.Duration) int64 {
	n, _ := levee.WaitUnits(d, time.Second)
	return n
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
