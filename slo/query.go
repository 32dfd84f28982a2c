package slo

import (
	"math"
	"time"

	"github.com/levee-go/levee"
)

// Budget is the error budget of an SLO's window: the bad events the
// objective allows, how many have been spent and how many are left.
//
// The budget of a full window is (1 − objective) × the events the window
// holds. Until the SLO has run for a whole window, it is extrapolated from
// the traffic so far, as if that traffic went on at the same rate: an SLO
// that has run for one day of a 30-day window with 1,000 events has a budget
// of (1 − objective) × 30,000 events. So an error in the first minutes after
// a start spends a small share of the budget, not all of it.
type Budget struct {
	// Total is the number of bad events the window allows.
	Total float64
	// Consumed is the number of bad events in the window.
	Consumed float64
	// Remaining is Total − Consumed; negative when overspent.
	Remaining float64
	// ConsumedRatio is Consumed / Total (0 when Total is 0): 1 means the
	// budget is spent, more means overspent.
	ConsumedRatio float64
	// RemainingRatio is 1 − ConsumedRatio.
	RemainingRatio float64
}

// Status is a snapshot of an SLO's figures.
type Status struct {
	Name      string
	Objective float64
	Window    time.Duration
	// Counts are the events in the window.
	Counts Counts
	// SLI is the fraction of good events in the window (1 when empty).
	SLI float64
	// Budget is the window's error budget.
	Budget Budget
	// BurnRate is the burn rate over the last [DefaultBurnWindow] (one
	// hour): the error ratio divided by the allowed one, 1 meaning the
	// budget would last exactly one window.
	BurnRate float64
	// TimeToExhaustion is how long the remaining budget lasts at BurnRate:
	// 0 when already spent, [levee.Never] when not burning.
	TimeToExhaustion time.Duration
	// Firing lists the severities of the alerts that fired at the last
	// evaluation.
	Firing []string
}

// span converts a window to a number of buckets, rounding up: the current,
// partly filled bucket counts as one. Zero or negative means the whole
// window.
func (s *SLO) span(w time.Duration) int64 {
	if w <= 0 || w >= time.Duration(s.window) {
		return s.ring.n
	}
	return int64((w + s.cfg.Bucket - 1) / s.cfg.Bucket)
}

// Counts returns the events recorded in the last w, measured in whole
// buckets (the current one included). Zero or negative w means the whole
// window.
func (s *SLO) Counts(w time.Duration) Counts {
	s = s.orEmpty()
	return s.ring.sum(s.clk.Nanotime(), s.span(w))
}

// Totals returns the events counted since the SLO was made, good and
// total. They only grow, so an exporter can publish them as the counter
// [EventsMetric] that the generated Prometheus rules read. It reads every
// bucket (about 30µs for the default 43,200), so call it per scrape, not
// per event.
func (s *SLO) Totals() Counts {
	s = s.orEmpty()
	return s.ring.totals()
}

// SLI returns the fraction of good events over the window, or 1 when the
// window holds none.
func (s *SLO) SLI() float64 {
	s = s.orEmpty()
	return sli(s.Counts(0))
}

func sli(c Counts) float64 {
	if c.Total == 0 {
		return 1
	}
	return float64(c.Good) / float64(c.Total)
}

func errorRatio(c Counts) float64 {
	if c.Total == 0 {
		return 0
	}
	return float64(c.Bad()) / float64(c.Total)
}

// ErrorRatio returns the fraction of bad events over the last w (see
// [SLO.Counts]), or 0 when there were none.
func (s *SLO) ErrorRatio(w time.Duration) float64 {
	s = s.orEmpty()
	return errorRatio(s.Counts(w))
}

// BurnRate returns how fast the budget burned over the last w: the error
// ratio divided by the one the objective allows. At burn rate 1 the budget
// lasts exactly one window; at 10, a tenth of it. Zero or negative w means
// the whole window.
func (s *SLO) BurnRate(w time.Duration) float64 {
	s = s.orEmpty()
	return s.ErrorRatio(w) / s.allowed
}

// Budget returns the error budget of the window now.
func (s *SLO) Budget() Budget {
	s = s.orEmpty()
	now := s.clk.Nanotime()
	return s.budget(now, s.ring.sum(now, s.ring.n))
}

func (s *SLO) budget(now int64, c Counts) Budget {
	elapsed := min(max(now-s.created, int64(s.cfg.Bucket)), s.window)
	total := s.allowed * float64(c.Total) * float64(s.window) / float64(elapsed)
	b := Budget{Total: total, Consumed: float64(c.Bad())}
	b.Remaining = b.Total - b.Consumed
	if b.Total > 0 {
		b.ConsumedRatio = b.Consumed / b.Total
	}
	b.RemainingRatio = 1 - b.ConsumedRatio
	return b
}

// TimeToExhaustion returns how long the remaining budget lasts if it burns
// on at the rate measured over the last w: 0 when the budget is spent,
// [levee.Never] when nothing burns.
func (s *SLO) TimeToExhaustion(w time.Duration) time.Duration {
	s = s.orEmpty()
	now := s.clk.Nanotime()
	var out [2]Counts
	s.ring.sums(now, []int64{s.ring.n, s.span(w)}, out[:])
	return s.timeToExhaustion(s.budget(now, out[0]), errorRatio(out[1])/s.allowed)
}

func (s *SLO) timeToExhaustion(b Budget, burn float64) time.Duration {
	if b.RemainingRatio <= 0 && b.Total > 0 {
		return 0
	}
	if burn <= 0 {
		return levee.Never
	}
	d := b.RemainingRatio * float64(s.window) / burn
	if d >= float64(levee.Never) {
		return levee.Never
	}
	return time.Duration(math.Round(d))
}

// Status returns the SLO's figures now. It reads the window once.
func (s *SLO) Status() Status {
	s = s.orEmpty()
	now := s.clk.Nanotime()
	var out [2]Counts
	s.ring.sums(now, []int64{s.ring.n, s.span(DefaultBurnWindow)}, out[:])
	st := Status{
		Name:      s.cfg.Name,
		Objective: s.objective,
		Window:    s.cfg.Window,
		Counts:    out[0],
		SLI:       sli(out[0]),
		Budget:    s.budget(now, out[0]),
		BurnRate:  errorRatio(out[1]) / s.allowed,
		Firing:    s.Firing(),
	}
	st.TimeToExhaustion = s.timeToExhaustion(st.Budget, st.BurnRate)
	return st
}
