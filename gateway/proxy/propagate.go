package proxy

import (
	"net/http"
	"time"

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
// fields are replaced by the time left before out's deadline (the route's,
// or the attempt's per-try timeout), and the criticality on out's context,
// if any, is written in X-Criticality unless the request carries it.
func writeBudget(out *http.Request) {
	delete(out.Header, leveehttp.HeaderGRPCTimeout)
	delete(out.Header, leveehttp.HeaderRequestTimeout)
	leveehttp.WriteBudget(out, 0)
}
