package proxy

import (
	"fmt"

	"github.com/levee-go/levee/gateway/config"
)

// callPolicies are a route's policies around the call to its upstream,
// other than retries (which live in the route's transport, a [retrier]).
// A nil field is a policy that is off.
type callPolicies struct {
	fault *faultInjector
}

// wireCall compiles a route's call policies: a retry policy makes the
// route forward through a [retrier]; without one it keeps the upstream's
// transport.
func (p *Proxy) wireCall(rt *route, rc config.Route) error {
	pol := rc.Policies
	if pol.Retry != nil {
		r, err := newRetrier(*pol.Retry, rt.upstream, rc.Timeout, p.clk)
		if err != nil {
			return fmt.Errorf("retry: %w", err)
		}
		rt.proxy.Transport = r
	}
	if pol.Fault != nil {
		f, err := newFaultInjector(*pol.Fault, rt.name, p.clk, p.seed)
		if err != nil {
			return fmt.Errorf("fault: %w", err)
		}
		rt.call.fault = f
	}
	return nil
}
