package leveehttp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/levee-go/levee"
)

// Header names used to carry a caller's budget and criticality.
const (
	// HeaderGRPCTimeout carries a deadline in gRPC's format ("250m").
	HeaderGRPCTimeout = "Grpc-Timeout"
	// HeaderRequestTimeout carries a deadline as a Go duration ("1.5s") or
	// seconds ("2.5").
	HeaderRequestTimeout = "X-Request-Timeout"
	// HeaderCriticality carries a [levee.Criticality] by name.
	HeaderCriticality = "X-Criticality"
)

// ErrBadTimeout is returned by [ParseTimeout] for a value it cannot trust.
var ErrBadTimeout = errors.New("leveehttp: bad timeout value")

// maxTimeout bounds parsed timeouts so arithmetic on them cannot overflow.
const maxTimeout = 100 * 365 * 24 * time.Hour

// ParseTimeout parses a timeout header: gRPC's format (1 to 8 digits and a
// unit of H, M, S, m, u or n), a Go duration ("1.5s") or a number of seconds
// ("2.5"). Zero, negative, overflowing and malformed values are refused with
// [ErrBadTimeout].
func ParseTimeout(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("%w: empty", ErrBadTimeout)
	}
	if d, ok := parseGRPCTimeout(s); ok {
		if d <= 0 {
			return 0, fmt.Errorf("%w: %q is not positive", ErrBadTimeout, s)
		}
		return min(d, maxTimeout), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return 0, fmt.Errorf("%w: %q is not positive", ErrBadTimeout, s)
		}
		return min(d, maxTimeout), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f <= 0 {
		return 0, fmt.Errorf("%w: %q", ErrBadTimeout, s)
	}
	if f >= maxTimeout.Seconds() {
		return maxTimeout, nil
	}
	return time.Duration(f * float64(time.Second)), nil
}

func parseGRPCTimeout(s string) (time.Duration, bool) {
	if len(s) < 2 || len(s) > 9 {
		return 0, false
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, false
	}
	var n int64
	for _, c := range s[:len(s)-1] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if n > int64(maxTimeout/unit) {
		return maxTimeout, true
	}
	return time.Duration(n) * unit, true
}

// FormatGRPCTimeout formats d in gRPC's timeout format, with the finest unit
// that fits in 8 digits. Non-positive d formats as "1n" (already expired).
func FormatGRPCTimeout(d time.Duration) string {
	if d <= 0 {
		return "1n"
	}
	units := []struct {
		d time.Duration
		c byte
	}{{time.Nanosecond, 'n'}, {time.Microsecond, 'u'}, {time.Millisecond, 'm'}, {time.Second, 'S'}, {time.Minute, 'M'}, {time.Hour, 'H'}}
	for _, u := range units {
		// Round up so the callee never gets more time than we have.
		v := (d + u.d - 1) / u.d
		if v <= 99999999 {
			return strconv.FormatInt(int64(v), 10) + string(u.c)
		}
	}
	return "99999999H"
}

// PropagateOptions configures [Propagate]. The zero value reads both timeout
// headers and the criticality header, with no limit of the server's own.
type PropagateOptions struct {
	// TimeoutHeaders are read in order; the first valid one wins. Nil means
	// [HeaderGRPCTimeout] then [HeaderRequestTimeout].
	TimeoutHeaders []string
	// MaxTimeout is the server's own limit per request: it caps a caller's
	// budget and applies when the caller sent none. Zero means no own limit.
	MaxTimeout time.Duration
	// CriticalityHeader names the criticality header. Empty means
	// [HeaderCriticality]; "-" disables reading it.
	CriticalityHeader string
}

// Propagate returns middleware that reads the caller's remaining budget and
// criticality from the request headers and puts them on the request's
// context: the budget, capped by opts.MaxTimeout, as a deadline, and the
// criticality for shedders and for [Transport] to pass on. Invalid header
// values are ignored.
func Propagate(opts PropagateOptions) func(http.Handler) http.Handler {
	headers := opts.TimeoutHeaders
	if headers == nil {
		headers = []string{HeaderGRPCTimeout, HeaderRequestTimeout}
	}
	critHeader := opts.CriticalityHeader
	if critHeader == "" {
		critHeader = HeaderCriticality
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			budget := opts.MaxTimeout
			for _, h := range headers {
				if v := r.Header.Get(h); v != "" {
					if d, err := ParseTimeout(v); err == nil {
						if budget <= 0 || d < budget {
							budget = d
						}
						break
					}
				}
			}
			if critHeader != "-" {
				if c, ok := levee.ParseCriticality(r.Header.Get(critHeader)); ok {
					ctx = levee.WithCriticality(ctx, c)
				}
			}
			if budget > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, budget)
				defer cancel()
			}
			if ctx != r.Context() {
				r = r.WithContext(ctx)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// WriteBudget sets the outgoing request's timeout headers from the deadline
// on its context, less margin (the time the answer needs to travel back), and
// its criticality header from the context's criticality. A budget already
// spent is written as the smallest positive value so the callee refuses
// quickly. Headers already set by the caller are kept.
func WriteBudget(req *http.Request, margin time.Duration) {
	WriteBudgetAt(req, margin, time.Now())
}

// WriteBudgetAt is [WriteBudget] with the budget counted from now, for
// callers that take their time from a clock (as [Transport] does).
func WriteBudgetAt(req *http.Request, margin time.Duration, now time.Time) {
	ctx := req.Context()
	if dl, ok := ctx.Deadline(); ok {
		left := dl.Sub(now) - margin
		if req.Header.Get(HeaderGRPCTimeout) == "" {
			req.Header.Set(HeaderGRPCTimeout, FormatGRPCTimeout(left))
		}
		if req.Header.Get(HeaderRequestTimeout) == "" {
			if left <= 0 {
				left = time.Nanosecond
			}
			req.Header.Set(HeaderRequestTimeout, left.String())
		}
	}
	if req.Header.Get(HeaderCriticality) == "" {
		if c := levee.CriticalityFrom(ctx); c != levee.Critical {
			req.Header.Set(HeaderCriticality, c.String())
		}
	}
}

// ForwardBudgetAt is [WriteBudgetAt] for proxies, which have already read
// the caller's budget into req's context: the caller's timeout fields are
// replaced, not kept, by the time left at now before the context's
// deadline (removed when it has none), written by [SetBudget]; the
// criticality is written as WriteBudgetAt does, unless req carries one. No
// margin is taken: the proxy's own deadline already ends first. It costs
// two allocations, as it runs on every forwarded request.
func ForwardBudgetAt(req *http.Request, now time.Time) {
	delete(req.Header, HeaderGRPCTimeout)
	delete(req.Header, HeaderRequestTimeout)
	ctx := req.Context()
	if dl, ok := ctx.Deadline(); ok {
		SetBudget(req.Header, dl.Sub(now))
	}
	if c := levee.CriticalityFrom(ctx); c != levee.Critical && len(req.Header[HeaderCriticality]) == 0 {
		req.Header[HeaderCriticality] = []string{c.String()}
	}
}

// SetBudget writes d in both timeout fields of h, replacing what they
// held: rounded up to whole milliseconds, at least one and at most
// 99,999,999 (gRPC's eight digits), as "250m" in [HeaderGRPCTimeout] and
// "250ms" in [HeaderRequestTimeout]. Milliseconds are precise enough for a
// budget and read the same in both formats. Both values share one
// allocation, and their slice another.
func SetBudget(h http.Header, d time.Duration) {
	ms := min(max((d+time.Millisecond-1)/time.Millisecond, 1), 99999999)
	var buf [24]byte
	b := strconv.AppendInt(buf[:0], int64(ms), 10)
	n := len(b)
	b = append(b, 'm')
	b = append(b, b[:n]...)
	b = append(b, "ms"...)
	s := string(b)
	vals := make([]string, 2)
	vals[0], vals[1] = s[:n+1], s[n+1:]
	h[HeaderGRPCTimeout] = vals[0:1:1]
	h[HeaderRequestTimeout] = vals[1:2:2]
}
