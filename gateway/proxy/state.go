package proxy

import (
	"time"

	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/concurrency"
	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/ratelimit"
	"github.com/levee-go/levee/slo"
)

// State is a snapshot of a Proxy's live state, for the admin API and
// dashboards: every route with its admission policies and fault
// injection, every upstream with its breaker and targets. Each field is
// read atomically on its own; the snapshot as a whole is not taken at one
// instant.
type State struct {
	Routes    []RouteState    `json:"routes"`
	Upstreams []UpstreamState `json:"upstreams"`
	// SLO is the gateway's own objective over every request
	// ([GatewaySLO]), which a reload's self-check watches.
	SLO *SLOState `json:"slo,omitempty"`
}

// SLOState is an objective's status ([slo.SLO.Status]) and its burn
// rates.
type SLOState struct {
	Name string `json:"name"`
	// Objective is the share of good requests aimed at (0–1) over Window
	// (seconds).
	Objective float64 `json:"objective"`
	Window    float64 `json:"window_seconds"`
	// Good and Total are the requests counted in the window; SLI is
	// Good/Total (1 when empty).
	Good  uint64  `json:"good"`
	Total uint64  `json:"total"`
	SLI   float64 `json:"sli"`
	// BudgetRemaining is the share of the error budget left (1 − consumed;
	// negative when overspent).
	BudgetRemaining float64 `json:"budget_remaining"`
	// BurnRates are the burn rates over the last 5 minutes, hour and 6
	// hours (windows longer than the objective's read all of it): 1 spends
	// the budget in exactly one window.
	BurnRates map[string]float64 `json:"burn_rates"`
	// Firing lists the severities of the alerts firing at the last
	// evaluation.
	Firing []string `json:"firing,omitempty"`
}

// RouteState is one route, in the order routes are tried.
type RouteState struct {
	Name     string `json:"name"`
	Upstream string `json:"upstream"`
	Priority int    `json:"priority"`
	// RateLimit is nil when the route has no rate limit.
	RateLimit *RateLimitState `json:"rate_limit,omitempty"`
	// Concurrency is nil when the route has no concurrency limit.
	Concurrency *ConcurrencyState `json:"concurrency,omitempty"`
	// Shed is nil when the route sheds nothing.
	Shed *ShedState `json:"shed,omitempty"`
	// Fault is nil when the route injects no fault.
	Fault *FaultState `json:"fault,omitempty"`
	// SLO is nil when the route has no objective (policies.slo).
	SLO *SLOState `json:"slo,omitempty"`
}

// RateLimitState is a route's rate limit and its use.
type RateLimitState struct {
	// Rate is the rate in the configuration's notation, such as "100/s".
	Rate string `json:"rate"`
	// Burst is the bucket's capacity in requests (per key).
	Burst int `json:"burst"`
	// Keys is the number of keys the local limiter holds now; 0 when the
	// limit is shared through Redis (the keys live there).
	Keys int `json:"keys"`
	// TopKeys are the [TopKeys] keys of a local limit that have spent the
	// most of their burst, the most first (a key is a client address, a
	// header's value… as the route's key says); empty when every bucket is
	// full or the limit is shared through Redis.
	TopKeys []ratelimit.KeyUsage `json:"top_keys,omitempty"`
	// Shared reports a limit kept in Redis; its rate cannot be changed at
	// run time.
	Shared bool `json:"shared"`
	// Fallback is on_redis_failure for a shared limit; empty otherwise.
	Fallback string `json:"fallback,omitempty"`
	// UsingFallback reports a shared limit deciding by its fallback now,
	// because Redis does not answer.
	UsingFallback bool `json:"using_fallback,omitempty"`
}

// ConcurrencyState is a route's concurrency limit and its use.
type ConcurrencyState struct {
	// Kind is "bulkhead" (a fixed limit) or "adaptive".
	Kind string `json:"kind"`
	// Limit is the current limit, in requests in flight: the configured
	// max of a bulkhead, the adaptive estimate of an adaptive limit. 0
	// with per_key, where every key has its own.
	Limit int `json:"limit"`
	// InFlight and Queued are the requests admitted and waiting now (0
	// with per_key).
	InFlight int `json:"in_flight"`
	Queued   int `json:"queued"`
	// Keys is the number of keys held with per_key; 0 otherwise.
	Keys int `json:"keys,omitempty"`
}

// ShedState is a route's shedding by criticality.
type ShedState struct {
	// InFlight is the route's requests in flight counted by
	// max_in_flight; 0 without it.
	InFlight int `json:"in_flight"`
}

// FaultState is a route's fault injection, as configured or as set at run
// time.
type FaultState struct {
	// Runtime reports faults set through [Proxy.SetFault] rather than by
	// the configuration.
	Runtime bool        `json:"runtime"`
	Header  string      `json:"header,omitempty"`
	Delay   *DelayState `json:"delay,omitempty"`
	Abort   *AbortState `json:"abort,omitempty"`
}

// DelayState is a fault's delay: Percent (0–100) of requests wait
// Duration.
type DelayState struct {
	Duration string  `json:"duration"`
	Percent  float64 `json:"percent"`
}

// AbortState is a fault's abort: Percent (0–100) of requests are answered
// with Status.
type AbortState struct {
	Status  int     `json:"status"`
	Percent float64 `json:"percent"`
}

// UpstreamState is one upstream.
type UpstreamState struct {
	Name string `json:"name"`
	// InFlight is the requests in flight to all its targets.
	InFlight int64 `json:"in_flight"`
	// Breaker is the upstream's breaker; nil when it has none or one per
	// target (then each target has its own).
	Breaker *BreakerState `json:"breaker,omitempty"`
	Targets []TargetState `json:"targets"`
}

// TargetState is one target of an upstream.
type TargetState struct {
	// Name identifies the target in the admin API: its host:port.
	Name   string `json:"name"`
	URL    string `json:"url"`
	Weight int    `json:"weight"`
	// Healthy reports passing health checks (always true without them).
	Healthy bool `json:"healthy"`
	// Ejected reports an outlier ejection in force; EjectedFor is the time
	// left, and Ejections the times the target was ejected.
	Ejected    bool    `json:"ejected"`
	EjectedFor float64 `json:"ejected_for_seconds,omitempty"`
	Ejections  int     `json:"ejections"`
	// Drained reports a target taken out of balancing by [Proxy.Drain].
	Drained  bool  `json:"drained"`
	InFlight int64 `json:"in_flight"`
	// Breaker is the target's own breaker with breaker.per_target; nil
	// otherwise.
	Breaker *BreakerState `json:"breaker,omitempty"`
}

// BreakerState is a breaker's state and the figures behind it.
type BreakerState struct {
	// State is closed, open, half_open, forced_open, disabled or
	// metrics_only (held closed by [Proxy.SetBreakerMode]).
	State string `json:"state"`
	// Mode is how the state is decided: auto, or the mode forced by
	// [Proxy.SetBreakerMode] (open, closed, disabled).
	Mode  string    `json:"mode"`
	Since time.Time `json:"since"`
	// Calls and Failures are the current window's; FailureRate and
	// SlowCallRate are percentages (0–100) of Calls.
	Calls               int64   `json:"calls"`
	Failures            int64   `json:"failures"`
	FailureRate         float64 `json:"failure_rate"`
	SlowCallRate        float64 `json:"slow_call_rate"`
	ConsecutiveFailures int64   `json:"consecutive_failures"`
	// RetryAfter is the time left, in seconds, before an open breaker
	// lets probes through.
	RetryAfter float64 `json:"retry_after_seconds,omitempty"`
	// Trips counts trips without closing in between.
	Trips int `json:"trips"`
	// LastTrip is why the breaker last opened; nil when it never did.
	LastTrip *TripState `json:"last_trip,omitempty"`
}

// TripState is why a breaker opened ([breaker.Trip]).
type TripState struct {
	Reason string `json:"reason"`
	// Value is what was measured and Threshold the limit it reached: a
	// percentage (0–100) for the rate reasons, a count otherwise.
	Value     float64   `json:"value"`
	Threshold float64   `json:"threshold"`
	Time      time.Time `json:"time"`
	// Wait is the open wait chosen, in seconds.
	Wait  float64 `json:"wait_seconds"`
	Error string  `json:"error,omitempty"`
}

// State returns a snapshot of p's routes and upstreams. It takes no lock
// on the request path; a Proxy with many routes costs one allocation per
// route and target.
func (p *Proxy) State() State {
	s := State{Routes: make([]RouteState, len(p.routes)), Upstreams: make([]UpstreamState, len(p.upstreams))}
	for i, rt := range p.routes {
		s.Routes[i] = rt.state()
		if o := p.slos.routes[rt.index]; o != nil {
			s.Routes[i].SLO = sloSnapshot(o)
		}
	}
	if p.slos.gateway != nil {
		s.SLO = sloSnapshot(p.slos.gateway)
	}
	for i, u := range p.upstreams {
		s.Upstreams[i] = u.state()
	}
	return s
}

func (rt *route) state() RouteState {
	rs := RouteState{Name: rt.name, Upstream: rt.upstream.name, Priority: rt.priority}
	if a := rt.admission; a != nil {
		if a.limit != nil {
			rs.RateLimit = a.limit.state()
		}
		if a.conc != nil {
			rs.Concurrency = a.conc.state()
		}
		if a.shed != nil {
			rs.Shed = &ShedState{}
			if a.shed.inflight != nil {
				rs.Shed.InFlight = a.shed.inflight.InFlight()
			}
		}
	}
	if f := rt.call.fault.Load(); f != nil {
		rs.Fault = f.state()
	}
	return rs
}

func (l *rateLimit) state() *RateLimitState {
	if l.shared != nil {
		return &RateLimitState{Rate: l.conf.Rate.String(), Burst: l.conf.Burst, Shared: true, Fallback: l.fallback,
			UsingFallback: l.shared.UsingFallback()}
	}
	k, ok := l.lim.(*ratelimit.Keyed)
	if !ok {
		return &RateLimitState{}
	}
	r := k.Rate()
	return &RateLimitState{Rate: config.Rate{Count: int64(r.Events), Per: r.Per}.String(), Burst: k.Burst(), Keys: k.Len(),
		TopKeys: k.Top(TopKeys)}
}

// TopKeys is how many of a local rate limit's keys [Proxy.State] lists:
// those that have spent the most of their burst.
const TopKeys = 10

func (g *concGate) state() *ConcurrencyState {
	if g.keyed != nil {
		return &ConcurrencyState{Kind: gateKind(g.keyed.Gate("")), Keys: g.keyed.Len()}
	}
	switch c := g.gate.(type) {
	case *concurrency.Bulkhead:
		return &ConcurrencyState{Kind: "bulkhead", Limit: c.Limit(), InFlight: c.InFlight(), Queued: c.Queued()}
	case *concurrency.Limiter:
		return &ConcurrencyState{Kind: "adaptive", Limit: c.Limit(), InFlight: c.InFlight(), Queued: c.Queued()}
	}
	return &ConcurrencyState{}
}

func gateKind(g concurrency.KeyGate) string {
	if _, ok := g.(*concurrency.Limiter); ok {
		return "adaptive"
	}
	return "bulkhead"
}

func (f *faultInjector) state() *FaultState {
	fs := &FaultState{Runtime: f.set, Header: f.cfg.Header}
	if d := f.cfg.Delay; d != nil {
		fs.Delay = &DelayState{Duration: d.Duration.String(), Percent: float64(d.Percent)}
	}
	if a := f.cfg.Abort; a != nil {
		fs.Abort = &AbortState{Status: a.Status, Percent: float64(a.Percent)}
	}
	return fs
}

func (u *upstream) state() UpstreamState {
	targets := u.pool().targets
	us := UpstreamState{Name: u.name, Targets: make([]TargetState, len(targets))}
	if u.breaker != nil {
		us.Breaker = breakerState(u.breaker)
	}
	now := u.now()
	if u.outliers != nil {
		u.outliers.mu.Lock() // ejections; rare, never on the request path
	}
	for i, t := range targets {
		ts := TargetState{
			Name: t.url.Host, URL: t.url.String(), Weight: t.weight,
			Healthy: t.healthy.Load(), Drained: t.drained.Load(), InFlight: t.active.Load(),
			Ejections: t.ejections,
		}
		if until := t.ejectedUntil.Load(); until > now {
			ts.Ejected, ts.EjectedFor = true, time.Duration(until-now).Seconds()
		}
		if t.breaker != nil {
			ts.Breaker = breakerState(t.breaker)
		}
		us.InFlight += ts.InFlight
		us.Targets[i] = ts
	}
	if u.outliers != nil {
		u.outliers.mu.Unlock()
	}
	return us
}

func breakerState(b *breaker.Breaker) *BreakerState {
	s := b.Snapshot()
	bs := &BreakerState{
		State: s.State.String(), Mode: modeOf(s.State), Since: s.Since,
		Calls: s.Calls, Failures: s.Failures, FailureRate: s.FailureRate, SlowCallRate: s.SlowCallRate,
		ConsecutiveFailures: s.ConsecutiveFailures, RetryAfter: s.RetryAfter.Seconds(), Trips: s.Trips,
	}
	if t := s.LastTrip; t.Reason != "" {
		bs.LastTrip = &TripState{Reason: t.Reason, Value: t.Value, Threshold: t.Threshold, Time: t.Time, Wait: t.Wait.Seconds()}
		if t.Err != nil {
			bs.LastTrip.Error = t.Err.Error()
		}
	}
	return bs
}

// modeOf names the mode behind a breaker state: a state only
// [Proxy.SetBreakerMode] enters names its mode, the others are automatic.
func modeOf(s breaker.State) string {
	switch s {
	case breaker.ForcedOpen:
		return string(BreakerOpen)
	case breaker.MetricsOnly:
		return string(BreakerClosed)
	case breaker.Disabled:
		return string(BreakerDisabled)
	}
	return string(BreakerAuto)
}

func sloSnapshot(o *slo.SLO) *SLOState {
	st := o.Status()
	return &SLOState{
		Name: st.Name, Objective: st.Objective, Window: st.Window.Seconds(),
		Good: st.Counts.Good, Total: st.Counts.Total, SLI: st.SLI, BudgetRemaining: st.Budget.RemainingRatio,
		BurnRates: map[string]float64{
			"5m": o.BurnRate(5 * time.Minute), "1h": o.BurnRate(time.Hour), "6h": o.BurnRate(6 * time.Hour),
		},
		Firing: st.Firing,
	}
}
