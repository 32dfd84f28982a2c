package slo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/levee-go/levee/clock"
)

// ErrNoBudget is matched by the error of a [Verdict] that refuses a change
// and of a failed [CheckResult].
var ErrNoBudget = errors.New("slo: error budget exhausted")

// GateConfig configures a [Gate].
type GateConfig struct {
	// SLOs are the objectives the change must not endanger; at least one.
	SLOs []*SLO
	// MinRemaining is the share of each error budget that must remain for
	// a change to go ahead: a change is allowed while every SLO's
	// [Budget.RemainingRatio] is greater than MinRemaining. Zero means any
	// budget left at all; it must be in [0, 1).
	MinRemaining float64
	// Block lists the alert severities that refuse a change while they
	// fire. Nil means {"page"}; a non-nil empty slice means none.
	Block []string
}

// Gate answers "is there error budget left for a risky change?", for a
// deployment pipeline or before a configuration reload. It is not a
// [levee.Gate]: it never sees calls, only the SLOs' figures.
type Gate struct {
	cfg GateConfig
}

// NewGate returns a gate over cfg.SLOs, or an error naming the invalid
// field.
func NewGate(cfg GateConfig) (*Gate, error) {
	cfg.SLOs = compact(cfg.SLOs)
	if len(cfg.SLOs) == 0 {
		return nil, errors.New("slo: GateConfig.SLOs is empty")
	}
	if !(cfg.MinRemaining >= 0 && cfg.MinRemaining < 1) {
		return nil, fmt.Errorf("slo: GateConfig.MinRemaining %v must be in [0, 1)", cfg.MinRemaining)
	}
	if cfg.Block == nil {
		cfg.Block = []string{"page"}
	}
	return &Gate{cfg: cfg}, nil
}

func compact(slos []*SLO) []*SLO {
	var out []*SLO
	for _, s := range slos {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// Verdict is a [Gate]'s answer with the figures behind it.
type Verdict struct {
	// Allowed reports whether the change may go ahead.
	Allowed bool
	// Reasons say why not, one line per failing SLO.
	Reasons []string
	// SLOs are the figures of each SLO, in the gate's order.
	SLOs []Status
}

// Err returns nil when the change is allowed, otherwise an error matching
// [ErrNoBudget] that gives the reasons.
func (v Verdict) Err() error {
	if v.Allowed {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrNoBudget, strings.Join(v.Reasons, "; "))
}

// Check evaluates each SLO's alerts now and decides.
func (g *Gate) Check() Verdict {
	v := Verdict{Allowed: true}
	for _, s := range g.cfg.SLOs {
		s.Evaluate()
		st := s.Status()
		v.SLOs = append(v.SLOs, st)
		if st.Budget.RemainingRatio <= g.cfg.MinRemaining {
			v.Allowed = false
			v.Reasons = append(v.Reasons, fmt.Sprintf("slo %q: %.4g%% of the error budget remains, need more than %.4g%%",
				st.Name, 100*st.Budget.RemainingRatio, 100*g.cfg.MinRemaining))
		}
		for _, sev := range g.cfg.Block {
			if s.Alerting(sev) {
				v.Allowed = false
				v.Reasons = append(v.Reasons, fmt.Sprintf("slo %q: %s alert firing", st.Name, sev))
			}
		}
	}
	return v
}

// Defaults of a [SelfCheckConfig].
const (
	DefaultCheckPeriod      = 5 * time.Minute
	DefaultCheckMaxBurnRate = 14.4
	DefaultCheckMinEvents   = 20
)

// SelfCheckConfig configures a [SelfCheck].
type SelfCheckConfig struct {
	// SLOs are the objectives to watch; at least one. They must share a
	// clock: the check reads the first one's.
	SLOs []*SLO
	// Period is how long to watch. Zero means [DefaultCheckPeriod]
	// (5 minutes); negative is refused.
	Period time.Duration
	// MaxBurnRate is the highest burn rate, over the events recorded since
	// the check began, that passes. Zero means [DefaultCheckMaxBurnRate]
	// (14.4, the fast-page rate: a change that would page fails); negative
	// is refused.
	MaxBurnRate float64
	// MinEvents is how many events an SLO must record during the check for
	// its burn rate to be judged; with fewer, the SLO passes as
	// inconclusive, so a quiet period never rolls a change back. Zero means
	// [DefaultCheckMinEvents] (20); negative means no minimum.
	MinEvents int64
	// MaxRegression, when positive, also compares each SLO with itself
	// before the change: an SLO fails when its error ratio since the check
	// began is more than MaxRegression times its error ratio over the
	// Period before the check began (measured in whole buckets, so at
	// least one bucket), and also above the objective's allowed error
	// ratio, so that a change from no errors to a few is not a failure.
	// The comparison is made only when the time before holds MinEvents
	// events or more. Zero means no comparison; otherwise it must be at
	// least 1.
	MaxRegression float64
}

// SelfCheck watches SLOs for a period after a change and reports whether
// the change kept them healthy: the gateway rolls a configuration reload
// back when its check fails. The figures count exactly the events recorded
// after [NewSelfCheck] (not to a bucket's width). A zero SelfCheck watched
// nothing: its Result does not pass and its Wait returns an error.
type SelfCheck struct {
	cfg    SelfCheckConfig
	clk    clock.Clock
	start  int64
	marks  []mark
	before []Counts // each SLO's events over the Period before the start
}

// NewSelfCheck starts watching now.
func NewSelfCheck(cfg SelfCheckConfig) (*SelfCheck, error) {
	cfg.SLOs = compact(cfg.SLOs)
	if len(cfg.SLOs) == 0 {
		return nil, errors.New("slo: SelfCheckConfig.SLOs is empty")
	}
	if cfg.Period == 0 {
		cfg.Period = DefaultCheckPeriod
	}
	if cfg.Period < 0 {
		return nil, fmt.Errorf("slo: SelfCheckConfig.Period %v must be positive", cfg.Period)
	}
	if cfg.MaxBurnRate == 0 {
		cfg.MaxBurnRate = DefaultCheckMaxBurnRate
	}
	if !(cfg.MaxBurnRate > 0) {
		return nil, fmt.Errorf("slo: SelfCheckConfig.MaxBurnRate %v must be positive", cfg.MaxBurnRate)
	}
	if cfg.MinEvents == 0 {
		cfg.MinEvents = DefaultCheckMinEvents
	}
	if cfg.MaxRegression != 0 && !(cfg.MaxRegression >= 1) {
		return nil, fmt.Errorf("slo: SelfCheckConfig.MaxRegression %v must be 0 or at least 1", cfg.MaxRegression)
	}
	c := &SelfCheck{cfg: cfg, clk: cfg.SLOs[0].clk}
	c.start = c.clk.Nanotime()
	for _, s := range cfg.SLOs {
		// The baseline is read before the mark: the events of the mark's
		// bucket so far belong to the time before the check.
		c.before = append(c.before, s.ring.sum(c.start, s.span(cfg.Period)))
		c.marks = append(c.marks, s.ring.mark(c.start))
	}
	return c, nil
}

// CheckResult is the outcome of a [SelfCheck].
type CheckResult struct {
	// Pass reports whether every SLO passed (an inconclusive SLO passes).
	Pass bool
	// Done reports whether the whole period has elapsed; a result taken
	// earlier is provisional.
	Done bool
	// Elapsed is how long the check has watched.
	Elapsed time.Duration
	// SLOs are the figures of each SLO, in the check's order.
	SLOs []CheckFigure
}

// CheckFigure is one SLO's part of a [CheckResult].
type CheckFigure struct {
	Name string
	// Counts are the events recorded since the check began.
	Counts Counts
	// ErrorRatio and BurnRate are measured over Counts; MaxBurnRate is the
	// limit they were judged against.
	ErrorRatio, BurnRate, MaxBurnRate float64
	// Pass reports whether BurnRate is at most MaxBurnRate, or the check
	// was inconclusive.
	Pass bool
	// Inconclusive reports that fewer than MinEvents events were recorded.
	Inconclusive bool
	// Before are the events over the Period before the check began, and
	// BeforeErrorRatio their error ratio, which MaxRegression compares
	// ErrorRatio with.
	Before           Counts
	BeforeErrorRatio float64
	// Regressed reports that the error ratio grew more than MaxRegression
	// times over the one before (see [SelfCheckConfig.MaxRegression]).
	Regressed bool
}

// Err returns nil when the check passed, otherwise an error matching
// [ErrNoBudget] that names the failing SLOs and their figures.
func (r CheckResult) Err() error {
	if r.Pass {
		return nil
	}
	var parts []string
	for _, f := range r.SLOs {
		switch {
		case f.Pass:
		case f.Regressed && f.BurnRate <= f.MaxBurnRate:
			parts = append(parts, fmt.Sprintf("slo %q errored at %.3g%% over %d events, %.3g%% before", f.Name, 100*f.ErrorRatio, f.Counts.Total, 100*f.BeforeErrorRatio))
		default:
			parts = append(parts, fmt.Sprintf("slo %q burned at %.3g× (max %.3g×) over %d events", f.Name, f.BurnRate, f.MaxBurnRate, f.Counts.Total))
		}
	}
	return fmt.Errorf("%w: self-check failed after %v: %s", ErrNoBudget, r.Elapsed, strings.Join(parts, "; "))
}

// Result returns the figures now: final once the period has elapsed,
// provisional before. A provisional result that does not pass already has
// MinEvents events against it, so a caller may act on it at once rather
// than wait for the period to end.
func (c *SelfCheck) Result() CheckResult {
	if c.clk == nil {
		return CheckResult{} // a zero SelfCheck watched nothing: it does not pass
	}
	now := c.clk.Nanotime()
	r := CheckResult{Pass: true, Elapsed: time.Duration(now - c.start)}
	r.Done = r.Elapsed >= c.cfg.Period
	for i, s := range c.cfg.SLOs {
		cnt := s.ring.since(now, c.marks[i])
		f := CheckFigure{Name: s.cfg.Name, Counts: cnt, ErrorRatio: errorRatio(cnt), MaxBurnRate: c.cfg.MaxBurnRate}
		f.BurnRate = f.ErrorRatio / s.allowed
		f.Inconclusive = c.cfg.MinEvents > 0 && cnt.Total < uint64(c.cfg.MinEvents)
		f.Before = c.before[i]
		f.BeforeErrorRatio = errorRatio(f.Before)
		if c.cfg.MaxRegression > 0 && !f.Inconclusive && (c.cfg.MinEvents <= 0 || f.Before.Total >= uint64(c.cfg.MinEvents)) {
			f.Regressed = f.ErrorRatio > s.allowed && f.ErrorRatio > c.cfg.MaxRegression*f.BeforeErrorRatio
		}
		f.Pass = f.Inconclusive || (f.BurnRate <= c.cfg.MaxBurnRate && !f.Regressed)
		r.Pass = r.Pass && f.Pass
		r.SLOs = append(r.SLOs, f)
	}
	return r
}

// Wait waits, on the SLOs' clock, until the period has elapsed and returns
// the final result; if ctx ends first it returns the provisional result and
// ctx's error.
func (c *SelfCheck) Wait(ctx context.Context) (CheckResult, error) {
	if c.clk == nil {
		return CheckResult{}, errors.New("slo: SelfCheck used as a zero value; build it with NewSelfCheck")
	}
	left := c.cfg.Period - time.Duration(c.clk.Nanotime()-c.start)
	if !clock.Sleep(c.clk, left, ctx.Done()) {
		return c.Result(), ctx.Err()
	}
	return c.Result(), nil
}
