package proxy

import (
	"time"

	"github.com/levee-go/levee/observe"
)

// reasons are the values of [ReasonHeader] the metrics know from the
// start; a reason not listed is learned at its first request (up to 30
// per route, then "other"), so list every Reason constant here to keep
// that room free.
var reasons = []string{
	ReasonNoRoute, ReasonBodyTooLarge, ReasonBreakerOpen, ReasonTimeout,
	ReasonConnectFailure, ReasonReset, ReasonBadResponse, ReasonUpstreamError,
	ReasonFallbackStale, ReasonFallbackUpstream, ReasonFallbackStatic, ReasonFaultAbort,
	ReasonShed, ReasonRateLimited, ReasonConcurrency, ReasonHeadersTooLarge,
}

// metrics records every request into an [observe.ProxyMetrics]: one
// recorder per route (indexed by the route's position in the
// configuration) and per target, made at start so that recording a
// request allocates nothing.
type metrics struct {
	noRoute *observe.RouteMetrics // requests no route takes
	routes  []*observe.RouteMetrics
}

// instrument makes the recorders of every route and target and registers
// every breaker, so that its state is exported from the start; it also
// listens to each route's adaptive limit and in-flight shedder (exported
// as levee_limit{policy="adaptive"} and levee_rejections_total) and to
// each upstream's outlier detection (levee_policy_events_total{
// policy="outlier", reason="ejected"}), so that dashboards and alerts see
// overload and ejections. A policy taken over from the Proxy this one
// replaces keeps that Proxy's registration (see [Proxy.listen]), so it is
// counted once.
func (p *Proxy) instrument(m *observe.ProxyMetrics) {
	if m == nil {
		return
	}
	pm := &metrics{
		noRoute: m.Route("", "", reasons),
		routes:  make([]*observe.RouteMetrics, len(p.routes)),
	}
	for _, rt := range p.routes {
		pm.routes[rt.index] = m.Route(rt.name, rt.upstream.name, reasons)
		if a := rt.admission; a != nil {
			if s := a.shed; s != nil && s.inflight != nil {
				p.listen(s.inflight, func() func() { return m.Policies().Register(s.inflight) })
			}
			if c := a.conc; c != nil && c.keyed == nil {
				if o, ok := c.gate.(observe.Observable); ok {
					p.listen(c.gate, func() func() { return m.Policies().Register(o) })
				}
			}
		}
	}
	for _, u := range p.upstreams {
		if b := u.breaker; b != nil {
			p.listen(b, func() func() { return m.Policies().Register(b) })
		}
		// The pool's health: dials and open connections by the dialer,
		// reuse by a trace the upstream's requests share.
		u.conns = m.Conns()
		u.transport.DialContext = u.conns.Dialer(u.name, u.transport.DialContext)
		if o := u.outliers; o != nil {
			p.listen(o, func() func() { return m.Policies().Register(o) })
		}
		u.metrics = m // for targets a new DNS answer adds (resolve.go)
		for _, t := range u.pool().targets {
			t.obs = m.Target(u.name, t.url.Host)
			if b := t.breaker; b != nil {
				p.listen(b, func() func() { return m.Policies().Register(b) })
			}
		}
	}
	p.metrics = pm
}

// record counts a finished request: by route, status class and reason,
// its duration since start (a reading of the proxy's clock), and by
// target when it was forwarded.
func (p *Proxy) record(w *statusWriter, ex *exchange, start int64) {
	status := w.status
	if w.aborted {
		status = 0
	}
	rm := p.metrics.noRoute
	if ex.route != nil {
		rm = p.metrics.routes[ex.route.index]
	}
	rm.Observe(status, w.Header().Get(ReasonHeader), time.Duration(p.clk.Nanotime()-start))
	if ex.target != nil {
		ex.target.obs.Observe(status)
	}
}

// instrumentTarget makes the recorder of t and registers its breaker; u
// has metrics.
func (u *upstream) instrumentTarget(t *target) {
	t.obs = u.metrics.Target(u.name, t.url.Host)
	if t.breaker != nil {
		t.unwatch = u.metrics.Policies().Register(t.breaker)
	}
}
