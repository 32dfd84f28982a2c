package dashboard

// This file is the one place that maps a running gateway onto the
// dashboard's Snapshot. It reads only public parts: the configuration,
// proxy.Proxy.Breaker, the breakers' snapshots and events, and
// observe.ProxyMetrics.Read. What the proxy does not expose yet (target
// health and ejection, limiter usage by key, adaptive limits, in-flight
// counts) is reported as not known, never made up.

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/proxy"
	"github.com/levee-go/levee/observe"
	"github.com/levee-go/levee/slo"
)

// ProxySourceOptions configure [NewProxySource].
type ProxySourceOptions struct {
	// Config is the configuration the proxy runs. Required.
	Config *config.Config
	// Proxy is the running proxy; its breakers are read and watched.
	// Required.
	Proxy *proxy.Proxy
	// Metrics are the proxy's metrics (proxy.Options.Metrics); request
	// rates, errors, latency and refusals come from them. Required.
	Metrics *observe.ProxyMetrics
	// Version, when set, reports the running configuration's version and
	// history for the config view. Nil means the view says "not
	// reported".
	Version func() *Config
}

// ProxySource is a [Source] over a running gateway. Rates are measured
// between two calls of Snapshot. A route with an slo section shows the
// proxy's own objective for it ([proxy.Proxy.RouteSLO]): its burn rates,
// budget and time to exhaustion. Call [ProxySource.Close] to stop
// watching the breakers.
type ProxySource struct {
	cfg     *config.Config
	metrics *observe.ProxyMetrics
	version func() *Config

	routes    []sourceRoute
	upstreams []sourceUpstream
	remove    []func()

	mu      sync.Mutex // serialises Snapshot
	prev    map[string]routeCounts
	targets map[string]targetCounts
	at      time.Time // of prev; zero before the first Snapshot
}

type sourceRoute struct {
	cfg     config.Route
	slo     *slo.SLO
	windows []time.Duration // the SLO's alert windows, shortest first
}

type sourceUpstream struct {
	name    string
	targets []string // host:port, as the metrics label them
	breaker *breaker.Breaker
	log     *transitionLog
}

// routeCounts are one route's cumulative counts.
type routeCounts struct {
	total, errors uint64
	reasons       map[string]uint64
	bounds        []float64 // duration histogram, all status classes summed
	cumulative    []uint64
	latencyGood   uint64 // requests under the SLO's latency, when it has one
}

type targetCounts struct{ total, errors uint64 }

// transitionLog keeps the latest state changes of one breaker.
type transitionLog struct {
	mu   sync.Mutex
	list []Transition // oldest first, at most maxTransitions
}

// maxTransitions is how many transitions a ProxySource keeps per breaker;
// the dashboard sends at most Caps.Transitions of them.
const maxTransitions = 64

func (l *transitionLog) add(e levee.Event) {
	if e.Kind != levee.EventStateChange {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.list) == maxTransitions {
		l.list = slices.Delete(l.list, 0, 1)
	}
	l.list = append(l.list, Transition{Time: e.Time, From: e.From, To: e.To, Reason: e.Reason, Value: e.Value, Threshold: e.Threshold})
}

func (l *transitionLog) copy() []Transition {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.list)
}

// NewProxySource watches the breakers of opts.Proxy and builds the SLOs
// of opts.Config's routes.
func NewProxySource(opts ProxySourceOptions) (*ProxySource, error) {
	if opts.Config == nil || opts.Proxy == nil || opts.Metrics == nil {
		return nil, errors.New("dashboard: ProxySourceOptions needs Config, Proxy and Metrics")
	}
	s := &ProxySource{cfg: opts.Config, metrics: opts.Metrics, version: opts.Version,
		prev: map[string]routeCounts{}, targets: map[string]targetCounts{}}
	for _, uc := range opts.Config.Upstreams {
		u := sourceUpstream{name: uc.Name, breaker: opts.Proxy.Breaker(uc.Name)}
		for _, t := range uc.Targets {
			u.targets = append(u.targets, targetHost(t.URL))
		}
		if u.breaker != nil {
			u.log = &transitionLog{}
			s.remove = append(s.remove, u.breaker.OnEvent(u.log.add))
		}
		s.upstreams = append(s.upstreams, u)
	}
	for _, rc := range opts.Config.Routes {
		r := sourceRoute{cfg: rc}
		if rc.Policies.SLO != nil {
			// The proxy keeps the route's objective, counting every request
			// as it ends: the dashboard reads it rather than keeping a copy.
			if r.slo = opts.Proxy.RouteSLO(rc.Name); r.slo == nil {
				s.Close()
				return nil, fmt.Errorf("dashboard: route %s: the proxy keeps no slo for it", rc.Name)
			}
			r.windows = burnWindows(r.slo.Config())
		}
		s.routes = append(s.routes, r)
	}
	return s, nil
}

// burnWindows are the windows the dashboard charts an SLO's burn rate
// over: those of the default alert table that fit in its window and its
// buckets.
func burnWindows(c slo.Config) []time.Duration {
	var windows []time.Duration
	for _, a := range slo.DefaultAlerts() {
		if a.Long <= c.Window && c.Bucket > 0 && a.Short%c.Bucket == 0 && a.Long%c.Bucket == 0 {
			windows = append(windows, a.Short, a.Long)
		}
	}
	slices.Sort(windows)
	return slices.Compact(windows)
}

// targetHost is a target's host:port as the proxy names it.
func targetHost(raw string) string {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return raw
}

// Close stops watching the breakers.
func (s *ProxySource) Close() {
	for _, f := range s.remove {
		f()
	}
	s.remove = nil
}

// Snapshot reads the proxy now and measures rates since the previous call
// (the first call measures none).
func (s *ProxySource) Snapshot(now time.Time) Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	reading := s.metrics.Read()
	cur := s.routeCounts(reading)
	dt := now.Sub(s.at).Seconds()
	if s.at.IsZero() || dt <= 0 {
		dt = 0
	}
	snap := Snapshot{Time: now}
	rates := map[string]map[string]float64{} // route → reason → refusals per second
	for _, r := range s.routes {
		rt, refusals := s.route(r, cur[r.cfg.Name], s.prev[r.cfg.Name], dt)
		snap.Routes = append(snap.Routes, rt)
		rates[r.cfg.Name] = refusals
		if r.slo != nil {
			snap.SLOs = append(snap.SLOs, sloView(r))
		}
		snap.Limits = append(snap.Limits, limits(r.cfg, rt, refusals)...)
		if o, ok := overload(r.cfg, refusals); ok {
			snap.Overload = append(snap.Overload, o)
		}
	}
	targets := s.targetCounts(reading)
	for _, u := range s.upstreams {
		snap.Upstreams = append(snap.Upstreams, s.upstream(u, targets, dt))
	}
	if s.version != nil {
		snap.Config = s.version()
	}
	s.prev, s.targets, s.at = cur, targets, now
	return snap
}

// routeCounts sums the reading's series per route.
func (s *ProxySource) routeCounts(r observe.ProxyReading) map[string]routeCounts {
	out := make(map[string]routeCounts, len(s.routes))
	for _, c := range r.Requests {
		rc := out[c.Route]
		rc.total += c.Count
		if c.StatusClass == "5xx" || c.StatusClass == "none" {
			rc.errors += c.Count
		}
		if c.Reason != "none" && c.Reason != "" {
			if rc.reasons == nil {
				rc.reasons = map[string]uint64{}
			}
			rc.reasons[c.Reason] += c.Count
		}
		out[c.Route] = rc
	}
	latency := map[string]time.Duration{}
	for _, r := range s.routes {
		if r.cfg.Policies.SLO != nil && r.cfg.Policies.SLO.Latency > 0 {
			latency[r.cfg.Name] = r.cfg.Policies.SLO.Latency
		}
	}
	for _, h := range r.Durations {
		rc := out[h.Route]
		if rc.bounds == nil {
			rc.bounds = h.Bounds
			rc.cumulative = make([]uint64, len(h.Bounds))
		}
		if len(h.Bounds) == len(rc.bounds) {
			for i, c := range h.Cumulative {
				rc.cumulative[i] += c
			}
		}
		if l, ok := latency[h.Route]; ok && h.StatusClass != "5xx" && h.StatusClass != "none" {
			rc.latencyGood += countUnder(h.Bounds, h.Cumulative, l.Seconds())
		}
		out[h.Route] = rc
	}
	return out
}

// countUnder is the count of the largest bucket bound at most limit: the
// requests known to have taken no longer than limit.
func countUnder(bounds []float64, cumulative []uint64, limit float64) uint64 {
	var n uint64
	for i, b := range bounds {
		if b > limit {
			break
		}
		n = cumulative[i]
	}
	return n
}

func (s *ProxySource) route(r sourceRoute, cur, prev routeCounts, dt float64) (Route, map[string]float64) {
	rt := Route{Name: r.cfg.Name, Upstream: r.cfg.Upstream}
	if dt == 0 {
		return rt, nil
	}
	total := sub(cur.total, prev.total)
	rt.RequestsPerSecond = float64(total) / dt
	if total > 0 {
		rt.ErrorRate = 100 * float64(sub(cur.errors, prev.errors)) / float64(total)
	}
	refusals := map[string]float64{}
	for reason, n := range cur.reasons {
		if d := sub(n, prev.reasons[reason]); d > 0 {
			refusals[reason] = float64(d) / dt
			rt.Refusals = append(rt.Refusals, Count{Name: reason, Value: float64(d) / dt})
		}
	}
	sort.Slice(rt.Refusals, func(i, j int) bool {
		a, b := rt.Refusals[i], rt.Refusals[j]
		return a.Value > b.Value || a.Value == b.Value && a.Name < b.Name
	})
	if len(prev.cumulative) == len(cur.cumulative) || prev.cumulative == nil {
		delta := make([]uint64, len(cur.cumulative))
		for i := range delta {
			var p uint64
			if prev.cumulative != nil {
				p = prev.cumulative[i]
			}
			delta[i] = sub(cur.cumulative[i], p)
		}
		// Every answered request has a duration, refusals included.
		rt.P50 = quantile(0.5, cur.bounds, delta, total)
		rt.P99 = quantile(0.99, cur.bounds, delta, total)
	}
	return rt, refusals
}

// quantile estimates the q-quantile of total observations from
// cumulative bucket counts, interpolating linearly inside the bucket as
// Prometheus' histogram_quantile does; past the last bound it answers the
// last bound.
func quantile(q float64, bounds []float64, cumulative []uint64, total uint64) float64 {
	if total == 0 || len(bounds) == 0 {
		return 0
	}
	rank := q * float64(total)
	lower, below := 0.0, uint64(0)
	for i, b := range bounds {
		if float64(cumulative[i]) >= rank {
			in := cumulative[i] - below
			if in == 0 {
				return b
			}
			return lower + (b-lower)*(rank-float64(below))/float64(in)
		}
		lower, below = b, cumulative[i]
	}
	return bounds[len(bounds)-1]
}

// sub is a-b for counters, 0 when a counter went back (a series that
// vanished with a reload).
func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

func sloView(r sourceRoute) SLO {
	st := r.slo.Status()
	v := SLO{Name: r.cfg.Name, Route: r.cfg.Name, Objective: 100 * st.Objective, Window: st.Window.Seconds(),
		BudgetRemaining: 100 * st.Budget.RemainingRatio, TimeToExhaustion: -1}
	for _, w := range r.windows {
		v.Burn = append(v.Burn, Burn{Window: w.Seconds(), Rate: r.slo.BurnRate(w)})
	}
	if st.TimeToExhaustion != levee.Never {
		v.TimeToExhaustion = st.TimeToExhaustion.Seconds()
	}
	r.slo.Evaluate()
	v.Firing = r.slo.Firing()
	return v
}

// limits are the route's rate and concurrency limits. The rate used is
// the requests that passed the limiter, known only when the limit is one
// per route (not per client or header).
func limits(rc config.Route, rt Route, refusals map[string]float64) []Limit {
	var out []Limit
	if rl := rc.Policies.RateLimit; rl != nil {
		l := Limit{Route: rc.Name, Kind: "rate", Limit: rl.Rate.PerSecond(), Used: -1, Refused: refusals[proxy.ReasonRateLimited]}
		if len(rl.Key) == 0 || len(rl.Key) == 1 && rl.Key[0] == "route" {
			l.Used = max(rt.RequestsPerSecond-refusals[proxy.ReasonRateLimited]-refusals[proxy.ReasonShed]-refusals[proxy.ReasonFaultAbort], 0)
		}
		if rl.Redis {
			l.Redis = "unknown"
		}
		out = append(out, l)
	}
	if c := rc.Policies.Concurrency; c != nil && c.Adaptive == nil && c.Max > 0 {
		out = append(out, Limit{Route: rc.Name, Kind: "concurrency", Limit: float64(c.Max), Used: -1, Refused: refusals[proxy.ReasonConcurrency]})
	}
	return out
}

// overload is the route's adaptive limit and shedding, when it has
// either.
func overload(rc config.Route, refusals map[string]float64) (Overload, bool) {
	c, sh := rc.Policies.Concurrency, rc.Policies.Shed
	if (c == nil || c.Adaptive == nil) && sh == nil {
		return Overload{}, false
	}
	o := Overload{Route: rc.Name, Limit: -1, InFlight: -1}
	if sh != nil {
		o.Shed = []Count{{Name: "all", Value: refusals[proxy.ReasonShed]}}
	}
	return o, true
}

// targetCounts sums the reading's target series per upstream/target.
func (s *ProxySource) targetCounts(r observe.ProxyReading) map[string]targetCounts {
	out := map[string]targetCounts{}
	for _, c := range r.Targets {
		k := c.Upstream + "/" + c.Target
		tc := out[k]
		tc.total += c.Count
		if c.StatusClass == "5xx" || c.StatusClass == "none" {
			tc.errors += c.Count
		}
		out[k] = tc
	}
	return out
}

func (s *ProxySource) upstream(u sourceUpstream, cur map[string]targetCounts, dt float64) Upstream {
	v := Upstream{Name: u.name, Targets: make([]Target, 0, len(u.targets))}
	if u.breaker != nil {
		v.Breaker = breakerView(u.breaker.Snapshot(), u.log.copy())
	}
	for _, host := range targetList(u, cur) {
		t := Target{Address: host}
		k := u.name + "/" + host
		if dt > 0 {
			total := sub(cur[k].total, s.targets[k].total)
			t.RequestsPerSecond = float64(total) / dt
			if total > 0 {
				t.ErrorRate = 100 * float64(sub(cur[k].errors, s.targets[k].errors)) / float64(total)
			}
		}
		v.Targets = append(v.Targets, t)
	}
	return v
}

// targetList is the upstream's targets as configured, then any other
// target the metrics name for it (the addresses a target name resolved
// to), sorted.
func targetList(u sourceUpstream, cur map[string]targetCounts) []string {
	list := slices.Clone(u.targets)
	var extra []string
	for k := range cur {
		if host, ok := strings.CutPrefix(k, u.name+"/"); ok && !slices.Contains(list, host) {
			extra = append(extra, host)
		}
	}
	slices.Sort(extra)
	return append(list, extra...)
}

func breakerView(b breaker.Snapshot, transitions []Transition) *Breaker {
	v := &Breaker{State: b.State.String(), Since: b.Since, FailureRate: b.FailureRate, Calls: b.Calls,
		RetryAfter: b.RetryAfter.Seconds(), Transitions: transitions}
	if t := b.LastTrip; t.Reason != "" {
		v.LastTrip = &Trip{Time: t.Time, Reason: t.Reason, Value: t.Value, Threshold: t.Threshold, Wait: t.Wait.Seconds()}
		if t.Err != nil {
			v.LastTrip.Error = t.Err.Error()
		}
	}
	return v
}

var _ Source = (*ProxySource)(nil)
