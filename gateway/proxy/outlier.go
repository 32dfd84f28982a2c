package proxy

import (
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/levee-go/levee"
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
//
// With success_rate or failure_percentage, every interval also compares
// the targets' answers in that interval: a target whose success rate is
// below the pool's mean by more than stdev_factor standard deviations, or
// whose failure share reaches the threshold, is ejected, counting only
// targets with request_volume answers and only when minimum_hosts of them
// have that many.
type outliers struct {
	u   *upstream
	cfg config.OutlierDetection
	clk clock.Clock
	log *slog.Logger

	mu      sync.Mutex // ejection decisions and the timer, which are rare
	timer   clock.Timer
	stopped bool

	listeners levee.Listeners
}

// OnEvent adds fn to the listeners of ejections: an [levee.EventInfo] with
// Policy "outlier", Name the upstream's, Reason "ejected", Value the
// number of targets ejected with this one and Threshold the most that may
// be. It returns a function that removes fn.
func (o *outliers) OnEvent(fn levee.Listener) (remove func()) { return o.listeners.Add(fn) }

func newOutliers(u *upstream, cfg config.OutlierDetection, clk clock.Clock, log *slog.Logger) *outliers {
	o := &outliers{u: u, cfg: cfg, clk: clock.Or(clk), log: log}
	if cfg.SuccessRate != nil || cfg.FailurePercentage != nil {
		o.mu.Lock() // the first evaluation must see the timer
		o.timer = o.clk.AfterFunc(cfg.Interval, o.evaluate)
		o.mu.Unlock()
	}
	return o
}

// stop ends the interval evaluations.
func (o *outliers) stop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stopped = true
	if o.timer != nil {
		o.timer.Stop()
	}
}

// evaluate runs the success-rate and failure-percentage checks over the
// interval that ended, then starts the next interval.
func (o *outliers) evaluate() {
	type stat struct {
		t          *target
		ok, failed int64
	}
	targets := o.u.pool().targets
	stats := make([]stat, len(targets))
	for i, t := range targets {
		stats[i] = stat{t, t.intervalOK.Swap(0), t.intervalFailed.Swap(0)}
	}
	var out []*target
	if sr := o.cfg.SuccessRate; sr != nil {
		var rates []float64
		var who []*target
		for _, s := range stats {
			if n := s.ok + s.failed; n > 0 && n >= int64(sr.RequestVolume) {
				rates = append(rates, float64(s.ok)/float64(n))
				who = append(who, s.t)
			}
		}
		if len(rates) > 0 && len(rates) >= sr.MinimumHosts {
			mean, sd := meanStdev(rates)
			for i, r := range rates {
				if r < mean-sr.StdevFactor*sd {
					out = append(out, who[i])
				}
			}
		}
	}
	if fp := o.cfg.FailurePercentage; fp != nil {
		var who []stat
		for _, s := range stats {
			if n := s.ok + s.failed; n > 0 && n >= int64(fp.RequestVolume) {
				who = append(who, s)
			}
		}
		if len(who) > 0 && len(who) >= fp.MinimumHosts {
			for _, s := range who {
				if float64(s.failed)/float64(s.ok+s.failed) >= fp.Threshold.Fraction() {
					out = append(out, s.t)
				}
			}
		}
	}
	for _, t := range out {
		o.eject(o.u, t)
	}
	o.mu.Lock()
	if !o.stopped {
		o.timer.Reset(o.cfg.Interval)
	}
	o.mu.Unlock()
}

func meanStdev(xs []float64) (mean, sd float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(xs)))
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
	if o.timer != nil {
		if fail5xx {
			t.intervalFailed.Add(1)
		} else {
			t.intervalOK.Add(1)
		}
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
	targets := u.pool().targets
	ejected := 0
	for _, c := range targets {
		if c.ejectedUntil.Load() > now {
			ejected++
		}
	}
	limit := max(1, int(float64(len(targets))*o.cfg.MaxEjectionPercent.Fraction()))
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
	if o.listeners.Active() {
		o.listeners.Emit(levee.Event{Kind: levee.EventInfo, Policy: "outlier", Name: u.name, Time: o.clk.Now(),
			Reason: "ejected", Value: float64(ejected + 1), Threshold: float64(limit), Wait: d})
	}
}
