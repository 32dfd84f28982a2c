package slo

import (
	"time"

	"math"

	"github.com/levee-go/levee"
)

// Alert states, as the From and To of the SLO's events.
const (
	StateOK     = "ok"
	StateFiring = "firing"
)

// AlertStatus is the result of evaluating one severity.
type AlertStatus struct {
	// Severity is the alert's severity ("page", "ticket", …).
	Severity string
	// Firing reports whether any of the severity's lines fires.
	Firing bool
	// BurnRate is the long-window burn rate of the line closest to firing
	// (the one with the highest Pressure), and Factor that line's factor.
	BurnRate, Factor float64
	// Pressure is how close the severity is to firing, 0 to 1: the highest,
	// over its lines, of min(long burn, short burn) / factor, capped at 1;
	// 0 for a line whose long window holds fewer than MinEvents events.
	Pressure float64
	// Suppressed reports whether a line would have fired but for
	// MinEvents.
	Suppressed bool
}

// Evaluate computes every alert now, records which fire, and emits an
// [levee.EventStateChange] (Policy "slo", Reason the severity, From and To
// [StateOK] or [StateFiring], Value the burn rate and Threshold the factor
// of the line that decided) for each alert that started or stopped. It
// returns the status of each severity, in the order of first appearance in
// [Config.Alerts].
func (s *SLO) Evaluate() []AlertStatus {
	s = s.orEmpty()
	if len(s.alerts) == 0 {
		return nil
	}
	now := s.clk.Nanotime()
	out := make([]Counts, len(s.spans))
	s.ring.sums(now, s.spans, out)

	st := make([]AlertStatus, len(s.sevs))
	for i, sev := range s.sevs {
		st[i].Severity = sev
	}
	minEvents := uint64(max(s.cfg.MinEvents, 0))
	for i, a := range s.alerts {
		long, short := out[2*i], out[2*i+1]
		lb, sb := errorRatio(long)/s.allowed, errorRatio(short)/s.allowed
		p := math.Min(math.Min(lb, sb)/a.Factor, 1)
		enough := long.Total >= minEvents
		fires := lb > a.Factor && sb > a.Factor
		if !enough {
			p = 0
			if fires {
				st[severityIndex(s.sevs, a.Severity)].Suppressed = true
			}
			fires = false
		}
		as := &st[severityIndex(s.sevs, a.Severity)]
		if fires {
			as.Firing = true
		}
		if p > as.Pressure || as.Factor == 0 {
			as.Pressure, as.BurnRate, as.Factor = p, lb, a.Factor
		}
	}

	var changed []AlertStatus
	s.mu.Lock()
	for i := range st {
		s.pressure[i].Store(math.Float64bits(st[i].Pressure))
		if s.firing[i] != st[i].Firing {
			s.firing[i] = st[i].Firing
			changed = append(changed, st[i])
		}
	}
	s.mu.Unlock()

	if len(changed) > 0 && s.listeners.Active() {
		t := s.clk.Now()
		for _, c := range changed {
			from, to := StateOK, StateFiring
			if !c.Firing {
				from, to = StateFiring, StateOK
			}
			s.listeners.Emit(levee.Event{
				Kind: levee.EventStateChange, Policy: "slo", Name: s.cfg.Name, Time: t,
				From: from, To: to, Reason: c.Severity, Value: c.BurnRate, Threshold: c.Factor,
			})
		}
	}
	return st
}

// Firing returns the severities that fired at the last evaluation.
func (s *SLO) Firing() []string {
	s = s.orEmpty()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for i, f := range s.firing {
		if f {
			out = append(out, s.sevs[i])
		}
	}
	return out
}

// Alerting reports whether the alert of the given severity fired at the
// last evaluation.
func (s *SLO) Alerting(severity string) bool {
	s = s.orEmpty()
	i := severityIndex(s.sevs, severity)
	if i < 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firing[i]
}

// Pressure returns how close the alert of the given severity was to firing
// at the last evaluation, from 0 (no burn) to 1 (firing); see
// [AlertStatus.Pressure]. It is one atomic load, for policies to poll on
// every call. An unknown severity has pressure 0.
func (s *SLO) Pressure(severity string) float64 {
	s = s.orEmpty()
	i := severityIndex(s.sevs, severity)
	if i < 0 {
		return 0
	}
	return math.Float64frombits(s.pressure[i].Load())
}

// Start evaluates the alerts every [Config.EvalInterval] on the SLO's clock
// until [SLO.Stop], and keeps the current bucket up to date with a timer at
// each bucket boundary, so that [SLO.Record] needs no clock reading while
// the SLO is started (its cost drops from one clock read plus an atomic add
// to an atomic load and add). Starting a started SLO does nothing.
func (s *SLO) Start() {
	if s.ring == nil {
		return // a zero SLO has nothing to schedule
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer != nil {
		return
	}
	s.gen++
	s.arm(s.gen)
	s.armTick(s.gen)
	s.ticking.Store(true)
}

// armTick moves the ring's head to the current bucket and schedules the
// next move at the next bucket boundary; s.mu is held. While it runs,
// Record counts into the head without reading the clock (a timer that fires
// late leaves a few events of the new bucket in the previous one).
func (s *SLO) armTick(gen uint64) {
	now := s.clk.Nanotime()
	s.ring.advanceTo(now)
	next := (floorDiv(now, s.ring.width)+1)*s.ring.width - now
	s.tick = s.clk.AfterFunc(time.Duration(next), func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.gen == gen && s.tick != nil {
			s.armTick(gen)
		}
	})
}

// arm schedules the next evaluation of schedule gen; s.mu is held.
func (s *SLO) arm(gen uint64) {
	s.timer = s.clk.AfterFunc(s.cfg.EvalInterval, func() {
		s.Evaluate()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.gen == gen && s.timer != nil {
			s.arm(gen)
		}
	})
}

// Stop ends the schedule started by [SLO.Start]. Alerts keep the state of
// their last evaluation.
func (s *SLO) Stop() {
	if s.ring == nil {
		return // a zero SLO has nothing to schedule
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	s.ticking.Store(false)
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if s.tick != nil {
		s.tick.Stop()
		s.tick = nil
	}
}
