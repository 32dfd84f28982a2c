package proxy

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/retry"
)

// callPolicies are a route's policies around the call to its upstream,
// other than those in its transport (a [retrier] inside a [fallbacker]).
// A nil field is a policy that is off. The fault injector is swapped at
// run time by [Proxy.SetFault] and [Proxy.StopFault].
type callPolicies struct {
	fault    atomic.Pointer[faultInjector]
	fallback *fallbacker
}

// wireCall compiles a route's call policies. The route's transport is the
// upstream's, wrapped by a [retrier] when the route retries, and that by a
// [fallbacker] when it falls back.
func (p *Proxy) wireCall(rt *route, rc config.Route, upstreams map[string]*upstream) error {
	pol := rc.Policies
	var r *retrier
	if pol.Retry != nil {
		var err error
		if r, err = newRetrier(*pol.Retry, rt.upstream, rc.Timeout, p.clk); err != nil {
			return fmt.Errorf("retry: %w", err)
		}
		rt.proxy.Transport = r
	}
	if pol.Hedge != nil {
		var budget retry.Budget
		if r != nil {
			budget = r.budget
		}
		h := newHedger(*pol.Hedge, rt.upstream, budget, p.clk)
		if r != nil {
			r.next = h // every attempt is hedged
		} else {
			rt.proxy.Transport = h
		}
	}
	if fc := pol.Fallback; fc != nil {
		var other *upstream
		if fc.Upstream != "" {
			if other = upstreams[fc.Upstream]; other == nil {
				return fmt.Errorf("fallback: no upstream is named %q", fc.Upstream)
			}
		}
		f, err := newFallbacker(*fc, rt.proxy.Transport, rt.upstream, other, p.dir, p.clk)
		if err != nil {
			return fmt.Errorf("fallback: %w", err)
		}
		rt.proxy.Transport = f
		rt.call.fallback = f
	}
	if pol.Fault != nil {
		f, err := newFaultInjector(*pol.Fault, rt.name, p.clk, p.seed)
		if err != nil {
			return fmt.Errorf("fault: %w", err)
		}
		rt.call.fault.Store(f)
	}
	return nil
}

// fallbackRejected answers, through the route's fallback, a request its
// upstream's breaker refused: the fallback answers at once, without
// calling the upstream.
func (p *Proxy) fallbackRejected(w http.ResponseWriter, r *http.Request, ex *exchange) {
	ex.rejected = true
	ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), exchangeKey{}, ex), ex.route.budget(r, ex))
	defer cancel()
	ex.route.proxy.ServeHTTP(w, r.WithContext(ctx))
}
