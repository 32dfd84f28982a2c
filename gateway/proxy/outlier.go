package proxy

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/gateway/config"
)

// outliers ejects targets that answer badly, with Envoy's semantics for
// consecutive failures: after consecutive_5xx 5xx answers (or connection
// failures) in a row, or consecutive_gateway_failure 502, 503 or 504
// answers in a row, a target takes no requests for base_ejection_time ×
// the number of times it was ejected, capped at max_ejection_time; never
// more than max_ejection_percent of the pool (and at least one target) is
// ejected at once. A gateway answer for the target (502 for a refused
// connection, 504 for a timeout) counts as the target's.
type outliers struct {
	cfg config.OutlierDetection
	clk clock.Clock
	log *slog.Logger
	mu  sync.Mutex // ejection decisions, which are rare
}

// record counts one answer of t; status 0 with aborted means an answer
// cut off.
func (o *outliers) record(u *upstream, t *target, status int, aborted bool) {
	fail5xx := aborted || status >= 500
	gateway := aborted || status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
	eject := false
	if !fail5xx {
		t.consec5xx.Store(0)
	} else if n := t.consec5xx.Add(1); o.cfg.Consecutive5xx > 0 && n >= int64(o.cfg.Consecutive5xx) {
		eject = true
	}
	if !gateway {
		t.consecGateway.Store(0)
	} else if n := t.consecGateway.Add(1); o.cfg.ConsecutiveGatewayFailure > 0 && n >= int64(o.cfg.ConsecutiveGatewayFailure) {
		eject = true
	}
	if eject {
		o.eject(u, t)
	}
}

// eject takes t out of balancing, unless it is out already or the pool's
// share of ejected targets is at its cap.
func (o *outliers) eject(u *upstream, t *target) {
	o.mu.Lock()
	now := o.clk.Nanotime()
	if t.ejectedUntil.Load() > now {
		o.mu.Unlock()
		return
	}
	ejected := 0
	for _, c := range u.targets {
		if c.ejectedUntil.Load() > now {
			ejected++
		}
	}
	limit := max(1, int(float64(len(u.targets))*o.cfg.MaxEjectionPercent.Fraction()))
	if ejected >= limit {
		o.mu.Unlock()
		return
	}
	t.ejections++
	d := min(o.cfg.BaseEjectionTime*time.Duration(t.ejections), o.cfg.MaxEjectionTime)
	t.ejectedUntil.Store(now + int64(d))
	t.consec5xx.Store(0)
	t.consecGateway.Store(0)
	n := t.ejections
	o.mu.Unlock()
	o.log.Warn("proxy: target ejected", "upstream", u.name, "target", t.url.Host, "for", d.String(), "ejections", n)
}
