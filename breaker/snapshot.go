package breaker

import "time"

// Snapshot is a breaker's state at one instant, for dashboards, health
// checks and tests.
type Snapshot struct {
	Name  string
	State State
	// Since is when the breaker entered State (the last transition).
	Since time.Time

	// Calls, Successes, Failures and SlowCalls are the calls in the
	// current window (in the open and half-open states: the window that
	// tripped the breaker). Ignored outcomes are not counted. In adaptive
	// mode, Failures includes the calls the breaker throttled.
	Calls, Successes, Failures, SlowCalls int64
	// FailureRate and SlowCallRate are percentages of Calls; zero when the
	// window is empty.
	FailureRate, SlowCallRate float64
	// ConsecutiveFailures is the current run of failures in the closed
	// (or metrics-only) state.
	ConsecutiveFailures int64

	// RetryAfter is the time left before an open breaker goes half-open.
	RetryAfter time.Duration
	// Trips counts consecutive trips without closing in between; it drives
	// the open-wait backoff.
	Trips int
	// LastTrip is why the breaker last opened.
	LastTrip Trip

	// ProbesAdmitted, ProbeSuccesses and ProbeFailures describe the probes
	// of a half-open breaker.
	ProbesAdmitted, ProbeSuccesses, ProbeFailures int64

	// RampShare is the share of calls a closed breaker admits while it
	// ramps up after recovering: 1 when not ramping.
	RampShare float64
	// RejectProbability is the adaptive throttling probability (zero
	// outside adaptive mode).
	RejectProbability float64
}

// Snapshot returns the breaker's current state and counts. It takes no
// lock of the breaker, so listeners may call it.
func (b *Breaker) Snapshot() Snapshot {
	g := b.load()
	now := b.clk.Nanotime()
	c := windowCounts(g, now)
	s := Snapshot{
		Name:         g.s.name,
		State:        g.state,
		Since:        g.since,
		Calls:        c.Calls,
		Successes:    c.Successes(),
		Failures:     c.Failures,
		SlowCalls:    c.Slow,
		FailureRate:  percent(c.Failures, c.Calls),
		SlowCallRate: percent(c.Slow, c.Calls),
		Trips:        g.trips,
		LastTrip:     g.lastTrip,
		RampShare:    1,
	}
	switch g.state {
	case Closed, MetricsOnly:
		s.ConsecutiveFailures = g.consec.Load()
		if g.state == Closed {
			s.RampShare = rampShare(g, now)
			if g.s.adaptive {
				s.RejectProbability = b.rejectProbability(g, now)
			}
		}
	case Open:
		s.RetryAfter = max(time.Duration(g.until-now), 0)
	case HalfOpen:
		s.ProbesAdmitted = g.s.probes - g.slots.Load()
		s.ProbeFailures = g.pFail.Load()
		s.ProbeSuccesses = g.pDone.Load() - s.ProbeFailures
	}
	return s
}
