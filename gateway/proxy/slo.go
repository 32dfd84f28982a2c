package proxy

import (
	"fmt"
	"net/http"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/slo"
)

// GatewaySLO is the name of the objective every Proxy keeps over all its
// requests (reload.self_check.objective): the one a reload's self-check
// watches whether or not routes have their own.
const GatewaySLO = "gateway"

// sloState is the routes' objectives (routes[].policies.slo), indexed by
// the route's position in the configuration, and the gateway's own over
// every request. A request is bad when it is answered 5xx or cut off, or,
// for an objective with a latency, answered slower than it; a request
// whose client went away counts for nothing.
type sloState struct {
	routes  []*slo.SLO // nil where the route has no slo
	gateway *slo.SLO
}

// newSLOs builds the objectives of cfg.
func (p *Proxy) newSLOs(cfg *config.Config) error {
	p.slos.routes = make([]*slo.SLO, len(cfg.Routes))
	for i, rc := range cfg.Routes {
		if rc.Policies.SLO == nil {
			continue
		}
		s, err := newRouteSLO(rc.Name, *rc.Policies.SLO, p.clk)
		if err != nil {
			return err
		}
		p.slos.routes[i] = s
	}
	g, err := newGatewaySLO(cfg.Reload.SelfCheck, p.clk)
	if err != nil {
		return err
	}
	p.slos.gateway = g
	return nil
}

// newRouteSLO builds a route's objective: one-minute buckets for windows
// of an hour or more (the SRE workbook's alert table when the window
// spans its three days), sixty buckets otherwise.
func newRouteSLO(route string, sc config.SLO, clk clock.Clock) (*slo.SLO, error) {
	return buildSLO(route, sc.Objective.Fraction(), sc.Latency, sc.Window, clk)
}

func newGatewaySLO(sc config.ReloadSelfCheck, clk clock.Clock) (*slo.SLO, error) {
	// The window holds the self-check's period twice over, so that the
	// time before a reload can be compared with the time after.
	window := max(time.Hour, 2*sc.Period)
	return buildSLO(GatewaySLO, sc.Objective.Fraction(), 0, window, clk)
}

func buildSLO(name string, objective float64, latency, window time.Duration, clk clock.Clock) (*slo.SLO, error) {
	bucket := time.Minute
	if window < time.Hour || window%time.Minute != 0 {
		bucket = max(window/60, time.Millisecond)
		window = bucket * 60
	}
	alerts := []slo.Alert{}
	if window >= 72*time.Hour {
		alerts = nil // the default table
	}
	good := func(o levee.Outcome) bool { return o.Result == levee.Success }
	if latency > 0 {
		good = func(o levee.Outcome) bool { return o.Result == levee.Success && o.Latency <= latency }
	}
	s, err := slo.New(slo.Config{Name: name, Objective: objective, Window: window, Bucket: bucket, Alerts: alerts, Good: good, Clock: clk})
	if err != nil {
		return nil, fmt.Errorf("slo: %w", err)
	}
	return s, nil
}

// recordSLO counts a finished request in the gateway's objective and its
// route's.
func (p *Proxy) recordSLO(w *statusWriter, r *http.Request, ex *exchange, start int64) {
	o := levee.Outcome{Result: outcome(r, w.status, w.aborted), Latency: time.Duration(p.clk.Nanotime() - start)}
	if o.Result == levee.Ignored {
		return
	}
	p.slos.gateway.Record(o)
	if ex.route != nil {
		if s := p.slos.routes[ex.route.index]; s != nil {
			s.Record(o)
		}
	}
}

// RouteSLO returns the objective of the route named name, or nil when it
// has none or there is no such route; the admin API reads its status.
func (p *Proxy) RouteSLO(name string) *slo.SLO {
	for _, rt := range p.routes {
		if rt.name == name {
			return p.slos.routes[rt.index]
		}
	}
	return nil
}

// SLOs returns the objectives a reload's self-check watches: every
// route's that has one, then the gateway's ([GatewaySLO]).
func (p *Proxy) SLOs() []*slo.SLO {
	var out []*slo.SLO
	for _, s := range p.slos.routes {
		if s != nil {
			out = append(out, s)
		}
	}
	return append(out, p.slos.gateway)
}
