package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/levee-go/levee/gateway/config"
)

// Carried says what became of one stateful policy when a Proxy replaced
// another ([Options.Previous]): the running object kept, with its state,
// or a new one built.
type Carried struct {
	// Kind is breaker, health, rate_limit, concurrency, shed, slo or
	// outlier_detection.
	Kind string `json:"kind"`
	// Name is the route's or upstream's name, with "/target" for a
	// target's breaker or health.
	Name string `json:"name"`
	// Carried reports that the running object was kept: a tripped breaker
	// stays open, a limiter keeps its tokens, an adaptive limit its
	// estimate, an objective its window, a target its health.
	Carried bool `json:"carried"`
	// Reason says why: unchanged, changed, new, or why such state is
	// never carried.
	Reason string `json:"reason"`
}

// carryState is what a Proxy knows for the next one: its configuration,
// what it took from the one before, and the metrics registrations it owns.
type carryState struct {
	cfg    *config.Config
	report []Carried
	fresh  map[*target]bool // targets not carried: Warm probes them
	kept   map[any]bool     // policies taken over from the previous Proxy, by pointer

	mu       sync.Mutex     // guards unlisten
	unlisten map[any]func() // metrics listeners this Proxy owns, by policy

	// reconfigure applies, at [Proxy.Commit], the new settings of the
	// policies p took over although their settings changed: not before,
	// so that a reload that fails before its swap leaves them as they were.
	reconfigure []func() error
}

// Commit applies to the policies p took over from [Options.Previous] the
// settings of p's configuration where they changed (with their
// Reconfigure methods, keeping their state). Call it once, right before
// p starts serving in place of the previous Proxy: until then the
// previous Proxy's policies keep their settings. An error means a policy
// kept its former settings; p can serve all the same.
func (p *Proxy) Commit() error {
	var errs []error
	for _, f := range p.carry.reconfigure {
		if err := f(); err != nil {
			errs = append(errs, err)
		}
	}
	p.carry.reconfigure = nil
	return errors.Join(errs...)
}

// Config returns the configuration p was built from.
func (p *Proxy) Config() *config.Config { return p.carry.cfg }

// Carried returns what p took over from [Options.Previous] and what it
// built anew, one entry per stateful policy of its configuration; nil
// without a previous Proxy.
func (p *Proxy) Carried() []Carried { return append([]Carried(nil), p.carry.report...) }

// adopt takes over from prev, policy by policy, every running object whose
// configuration did not change, and records what it kept and what it
// reset. p is not serving yet: its fields can still be replaced.
func (p *Proxy) adopt(cfg *config.Config, prev *Proxy) {
	p.carry.cfg = cfg
	p.carry.fresh = map[*target]bool{}
	for _, u := range p.upstreams {
		for _, t := range u.pool().targets {
			p.carry.fresh[t] = true
		}
	}
	if prev == nil {
		return
	}
	p.adoptGateway(cfg, prev)
	old := prev.carry.cfg
	for i, uc := range cfg.Upstreams {
		u := p.upstreams[i]
		ou, oc := prev.upstream(uc.Name, old)
		p.adoptUpstream(u, uc, ou, oc)
	}
	byName := map[string]*route{}
	for _, rt := range prev.routes {
		byName[rt.name] = rt
	}
	for _, rt := range p.routes {
		rc := cfg.Routes[rt.index]
		ort := byName[rt.name]
		var orc config.Route
		if ort != nil {
			orc = old.Routes[ort.index]
		}
		p.adoptRoute(rt, rc, ort, orc, prev)
	}
}

func (p *Proxy) upstream(name string, cfg *config.Config) (*upstream, config.Upstream) {
	for i, u := range p.upstreams {
		if u.name == name {
			return u, cfg.Upstreams[i]
		}
	}
	return nil, config.Upstream{}
}

func (p *Proxy) note(kind, name string, carried bool, reason string) {
	p.carry.report = append(p.carry.report, Carried{Kind: kind, Name: name, Carried: carried, Reason: reason})
}

// verdict says whether a policy configured now as cur (nil when off) can
// keep the object built for old: "" when it can.
func verdict(existed bool, old, cur any) string {
	switch {
	case !existed:
		return "new"
	case !reflect.DeepEqual(old, cur):
		return "changed"
	}
	return ""
}

func (p *Proxy) adoptUpstream(u *upstream, uc config.Upstream, ou *upstream, oc config.Upstream) {
	targets := map[string]*target{}
	if ou != nil {
		for _, t := range ou.pool().targets {
			targets[t.url.String()] = t
		}
	}
	if uc.Breaker != nil {
		// A breaker is kept when its settings did not change; a
		// per-target one also needs its target.
		why := verdict(ou != nil && oc.Breaker != nil, oc.Breaker, uc.Breaker)
		if !uc.Breaker.PerTarget {
			switch {
			case why == "":
				u.breaker = ou.breaker
				p.keep(u.breaker)
			case why == "changed" && ou.breaker != nil && !oc.Breaker.PerTarget:
				// New settings for the same breaker: it keeps its state
				// (open stays open, its window when the window's shape
				// is the same) and takes them at the swap.
				kept, cfg := ou.breaker, breakerConfig(u.name, *uc.Breaker, nil)
				p.carry.reconfigure = append(p.carry.reconfigure, func() error { return kept.Reconfigure(cfg) })
				u.breaker = kept
				p.keep(kept)
				why = "reconfigured"
			}
			p.note("breaker", u.name, why == "" || why == "reconfigured", or(why, "unchanged"))
		} else {
			for _, t := range u.pool().targets {
				ot, tw := targets[t.url.String()], why
				if tw == "" && ot == nil {
					tw = "new"
				}
				if tw == "" {
					t.breaker = ot.breaker
					p.keep(t.breaker)
				}
				p.note("breaker", u.name+"/"+t.url.Host, tw == "", or(tw, "unchanged"))
			}
		}
	}
	if uc.HealthCheck != nil {
		why := verdict(ou != nil && oc.HealthCheck != nil, oc.HealthCheck, uc.HealthCheck)
		for _, t := range u.pool().targets {
			ot, tw := targets[t.url.String()], why
			if tw == "" && ot == nil {
				tw = "new"
			}
			if tw == "" {
				t.healthy.Store(ot.healthy.Load())
				delete(p.carry.fresh, t)
			}
			p.note("health", u.name+"/"+t.url.Host, tw == "", or(tw, "unchanged"))
		}
	}
	if uc.OutlierDetection != nil {
		p.note("outlier_detection", u.name, false, "ejections start afresh with a new runtime")
	}
}

func (p *Proxy) adoptRoute(rt *route, rc config.Route, ort *route, orc config.Route, prev *Proxy) {
	pol, opol := rc.Policies, orc.Policies
	if a := rt.admission; a != nil {
		var oa *admission
		if ort != nil {
			oa = ort.admission
		}
		if pol.RateLimit != nil {
			why := verdict(oa != nil && oa.limit != nil, opol.RateLimit, pol.RateLimit)
			if why == "" && pol.RateLimit.Redis {
				why = "shared in Redis, where its counts live on"
			}
			if why == "" {
				a.limit = oa.limit
			}
			p.note("rate_limit", rt.name, why == "", or(why, "unchanged"))
		}
		if pol.Concurrency != nil {
			why := verdict(oa != nil && oa.conc != nil, opol.Concurrency, pol.Concurrency)
			if why == "" {
				a.conc = oa.conc
				p.keep(a.conc.gate)
			}
			p.note("concurrency", rt.name, why == "", or(why, "unchanged"))
		}
		if pol.Shed != nil {
			why := verdict(oa != nil && oa.shed != nil, opol.Shed, pol.Shed)
			if why == "" && pol.Shed.CPU > 0 {
				why = "its CPU sampler belongs to the runtime it replaces"
			}
			if why == "" {
				a.shed = oa.shed
				p.keep(a.shed.inflight)
			}
			p.note("shed", rt.name, why == "", or(why, "unchanged"))
		}
	}
	if pol.SLO != nil {
		had := ort != nil && prev.slos.routes[ort.index] != nil
		why := verdict(had, opol.SLO, pol.SLO)
		if why == "" {
			p.slos.routes[rt.index] = prev.slos.routes[ort.index]
		}
		p.note("slo", rt.name, why == "", or(why, "unchanged"))
	}
}

// adoptGateway keeps the gateway's objective when its settings did not
// change, so that a self-check can compare with the time before.
func (p *Proxy) adoptGateway(cfg *config.Config, prev *Proxy) {
	why := verdict(true, prev.carry.cfg.Reload.SelfCheck.Objective, cfg.Reload.SelfCheck.Objective)
	if why == "" && max(time.Hour, 2*prev.carry.cfg.Reload.SelfCheck.Period) != max(time.Hour, 2*cfg.Reload.SelfCheck.Period) {
		why = "changed"
	}
	if why == "" {
		p.slos.gateway = prev.slos.gateway
	}
	p.note("slo", GatewaySLO, why == "", or(why, "unchanged"))
	if p.slos.latency != nil {
		lw := why
		if lw == "" && prev.slos.latency == nil {
			lw = "new"
		} else if lw == "" && prev.carry.cfg.Reload.SelfCheck.Latency != cfg.Reload.SelfCheck.Latency {
			lw = "changed"
		}
		if lw == "" {
			p.slos.latency = prev.slos.latency
		}
		p.note("slo", GatewayLatencySLO, lw == "", or(lw, "unchanged"))
	}
}

// keep marks b, a policy p took over (a breaker, an adaptive limit, an
// in-flight shedder: a pointer), as still listened to by the metrics
// registration of the Proxy it came from (see [Proxy.Retire]).
func (p *Proxy) keep(b any) {
	if p.carry.kept == nil {
		p.carry.kept = map[any]bool{}
	}
	p.carry.kept[b] = true
}

// listen registers b with the metrics unless p took it over, in which case
// the registration of the Proxy it came from goes on, so that a policy
// carried across reloads is counted once.
func (p *Proxy) listen(b any, register func() (remove func())) {
	if p.carry.kept[b] {
		return
	}
	p.carry.mu.Lock()
	defer p.carry.mu.Unlock()
	if p.carry.unlisten == nil {
		p.carry.unlisten = map[any]func(){}
	}
	p.carry.unlisten[b] = register()
}

// unlistenAll removes the metrics listeners p owns.
func (p *Proxy) unlistenAll() {
	p.carry.mu.Lock()
	defer p.carry.mu.Unlock()
	for b, remove := range p.carry.unlisten {
		remove()
		delete(p.carry.unlisten, b)
	}
}

// Retire closes p, which next replaced (next was built with
// [Options.Previous] p and is serving), once p's requests in flight are
// done: the breakers next took over keep their metrics listener, now
// owned by next; everything else is closed as by [Proxy.Close].
func (p *Proxy) Retire(next *Proxy) {
	if next != nil {
		p.carry.mu.Lock()
		next.carry.mu.Lock()
		for b := range next.carry.kept {
			if remove, ok := p.carry.unlisten[b]; ok {
				if next.carry.unlisten == nil {
					next.carry.unlisten = map[any]func(){}
				}
				next.carry.unlisten[b] = remove
				delete(p.carry.unlisten, b)
			}
		}
		next.carry.mu.Unlock()
		p.carry.mu.Unlock()
	}
	p.Close()
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Warm probes every target that p did not take over from the Proxy it
// replaces (every target, without one) in upstreams with a health_check,
// each until one probe passes. It returns nil when all passed, or, when
// ctx ends first, an error naming the targets that did not; the caller
// then discards p. Probes are repeated every health_check.interval, at
// most every 100ms.
func (p *Proxy) Warm(ctx context.Context) error {
	var pending []warmTarget
	for i, u := range p.upstreams {
		hc := p.carry.cfg.Upstreams[i].HealthCheck
		if hc == nil || u.checks == nil {
			continue
		}
		for _, t := range u.pool().targets {
			if p.carry.fresh[t] {
				pending = append(pending, warmTarget{u: u, t: t})
			}
		}
	}
	for len(pending) > 0 {
		left := pending[:0]
		for _, w := range pending {
			if !w.u.checks.probeOnce(ctx, w.t) {
				left = append(left, w)
			}
		}
		pending = left
		if len(pending) == 0 {
			return nil
		}
		wait := min(pending[0].u.checks.cfg.Interval, 100*time.Millisecond)
		tm := p.clk.NewTimer(wait)
		select {
		case <-tm.C():
		case <-ctx.Done():
			tm.Stop()
			names := ""
			for i, w := range pending {
				if i > 0 {
					names += ", "
				}
				names += w.u.name + "/" + w.t.url.Host
			}
			return fmt.Errorf("proxy: no passing health check from %s: %w", names, ctx.Err())
		}
	}
	return nil
}

type warmTarget struct {
	u *upstream
	t *target
}

// probeOnce sends one health check to t and reports whether it passed,
// without counting it toward t's thresholds.
func (c *checker) probeOnce(ctx context.Context, t *target) bool {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url.String()+c.cfg.Path, nil)
	if err != nil {
		return false
	}
	req.Header.Set("User-Agent", "levee-health-check")
	resp, err := c.client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return c.expected(resp.StatusCode)
}
