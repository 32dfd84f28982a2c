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

// writeBudget tells the upstream how long it has, with
// [leveehttp.ForwardBudgetAt]: the client's timeout fields are replaced by
// the time left before out's deadline, and the criticality goes along.
// Context deadlines are on the runtime's clock, so the time left is
// counted from time.Now, not from the proxy's clock.
func writeBudget(out *http.Request) { leveehttp.ForwardBudgetAt(out, time.Now()) }
