package slo

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/levee-go/levee"
)

// TightenerConfig configures a [Tightener].
type TightenerConfig struct {
	// SLOs are the objectives to watch; at least one.
	SLOs []*SLO
	// Severity is the alert that tightens: "page" (the fast burn) when
	// empty. It must name an alert of every SLO.
	Severity string
	// OnStart is called when the alert starts firing on the first of the
	// SLOs; OnStop when it stops on the last. Either may be nil. They are
	// called from the goroutine that evaluated the SLO, outside any lock,
	// once per transition.
	OnStart, OnStop func()
}

// Tightener connects the error budget to protection policies that this
// package cannot import: while the fast-burn alert fires, it asks them to
// be stricter — cut a retry budget or a hedge rate, shed sheddable traffic
// earlier — through plain functions, and it offers [Tightener.Pressure] for
// policies that poll. The Tightener example wires it to a retry budget; a
// shedder that drops sheddable requests above a CPU threshold can start
// earlier as the burn nears the paging rate:
//
//	threshold := func() float64 { return 0.9 - 0.2*t.Pressure() } // 90% → 70%
type Tightener struct {
	cfg    TightenerConfig
	idx    []int // the severity's index in each SLO
	mu     sync.Mutex
	active bool
	remove []func()
}

// NewTightener returns a tightener watching cfg.SLOs. Alerts are evaluated
// by the SLOs' schedules ([SLO.Start]) or by [SLO.Evaluate]; the tightener
// reacts to their events. Call [Tightener.Close] to detach it.
func NewTightener(cfg TightenerConfig) (*Tightener, error) {
	cfg.SLOs = compact(cfg.SLOs)
	if len(cfg.SLOs) == 0 {
		return nil, errors.New("slo: TightenerConfig.SLOs is empty")
	}
	if cfg.Severity == "" {
		cfg.Severity = "page"
	}
	for i, s := range cfg.SLOs {
		if severityIndex(s.sevs, cfg.Severity) < 0 {
			return nil, fmt.Errorf("slo: TightenerConfig.Severity %q is not an alert of SLOs[%d] (%q)", cfg.Severity, i, s.Name())
		}
	}
	t := &Tightener{cfg: cfg}
	for _, s := range cfg.SLOs {
		t.idx = append(t.idx, severityIndex(s.sevs, cfg.Severity))
	}
	for _, s := range cfg.SLOs {
		t.remove = append(t.remove, s.OnEvent(t.onEvent))
	}
	t.sync()
	return t, nil
}

func (t *Tightener) onEvent(e levee.Event) {
	if e.Kind == levee.EventStateChange && e.Reason == t.cfg.Severity {
		t.sync()
	}
}

// sync recomputes the state from the SLOs, so that events arriving out of
// order cannot leave it wrong, and calls the hooks on a transition.
func (t *Tightener) sync() {
	t.mu.Lock()
	now := false
	for _, s := range t.cfg.SLOs {
		if s.Alerting(t.cfg.Severity) {
			now = true
			break
		}
	}
	changed := now != t.active
	t.active = now
	t.mu.Unlock()
	if !changed {
		return
	}
	if now && t.cfg.OnStart != nil {
		t.cfg.OnStart()
	} else if !now && t.cfg.OnStop != nil {
		t.cfg.OnStop()
	}
}

// Active reports whether the alert fires on any of the SLOs.
func (t *Tightener) Active() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.active
}

// Pressure returns how close the alert is to firing, from 0 to 1 (firing),
// the highest over the SLOs at their last evaluation (see
// [AlertStatus.Pressure]). It costs one atomic load per SLO: a policy may
// poll it on every call, for example to scale a retry ratio by
// (1 − Pressure()).
func (t *Tightener) Pressure() float64 {
	var p float64
	for i, s := range t.cfg.SLOs {
		p = max(p, math.Float64frombits(s.pressure[t.idx[i]].Load()))
	}
	return p
}

// Close detaches the tightener from its SLOs; the hooks are not called
// again.
func (t *Tightener) Close() {
	t.mu.Lock()
	rm := t.remove
	t.remove = nil
	t.mu.Unlock()
	for _, f := range rm {
		f()
	}
}
