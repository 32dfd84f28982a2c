package proxy

import (
	"net/http"
	"strconv"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/leveehttp"
)

// budget is the time a request may take: the route's timeout, less any
// injected delay, and no more than the budget the client sent in
// Grpc-Timeout or X-Request-Timeout (the first valid one), so that the
// gateway does not work on past the client's own deadline.
func (rt *route) budget(r *http.Request, ex *exchange) time.Duration {
	d := rt.timeout - ex.delayed
	for _, h := range [...]string{leveehttp.HeaderGRPCTimeout, leveehttp.HeaderRequestTimeout} {
		if v := r.Header.Get(h); v != "" {
			if c, err := leveehttp.ParseTimeout(v); err == nil {
				d = min(d, c)
				break
			}
		}
	}
	return d
}

// writeBudget tells the upstream how long it has: the client's timeout
// fields are replaced by the time left before out's deadline, and the
// criticality on out's context, if any and not the default, is written in
// X-Criticality unless the request carries it. It is leveehttp.WriteBudget
// in two allocations rather than a dozen, on every forwarded request.
func writeBudget(out *http.Request) {
	delete(out.Header, leveehttp.HeaderGRPCTimeout)
	delete(out.Header, leveehttp.HeaderRequestTimeout)
	ctx := out.Context()
	if dl, ok := ctx.Deadline(); ok {
		setBudget(out.Header, time.Until(dl))
	}
	if c := levee.CriticalityFrom(ctx); c != levee.Critical && len(out.Header[leveehttp.HeaderCriticality]) == 0 {
		out.Header[leveehttp.HeaderCriticality] = []string{c.String()}
	}
}

// setBudget writes d, rounded up to whole milliseconds (at least one), in
// Grpc-Timeout ("250m") and X-Request-Timeout ("250ms").
func setBudget(h http.Header, d time.Duration) {
	ms := min(max((d+time.Millisecond-1)/time.Millisecond, 1), 99999999) // gRPC allows 8 digits
	var buf [24]byte
	b := strconv.AppendInt(buf[:0], int64(ms), 10)
	n := len(b)
	b = append(b, 'm')
	b = append(b, b[:n]...)
	b = append(b, "ms"...)
	s := string(b)
	vals := make([]string, 2)
	vals[0], vals[1] = s[:n+1], s[n+1:]
	h[leveehttp.HeaderGRPCTimeout] = vals[0:1:1]
	h[leveehttp.HeaderRequestTimeout] = vals[1:2:2]
}
