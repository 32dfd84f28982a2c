package breaker

import "time"

// Reconfigure applies cfg to the running breaker atomically, keeping its
// state. It validates the whole of cfg first, exactly as [New] does (zero
// fields take the same defaults), and on a bad value returns the
// [*ConfigError] naming the field and changes nothing. Calls decided
// concurrently see either the old settings or the new ones, never a mix.
//
// What survives:
//   - the state (closed, open, half-open, or set by hand) and the last
//     trip; the consecutive-trip count that drives the open-wait backoff;
//   - the window's counts and the run of consecutive failures, when the
//     window keeps its shape (the same WindowSize for a count window, the
//     same WindowDuration and WindowBuckets for a time window). A window
//     of another shape starts empty, in the same state;
//   - an open breaker's current wait: it goes half-open when it was due
//     to (the new OpenWait applies from the next trip);
//   - a recovery ramp in progress, at its current share.
//
// Calls admitted before the change and settled after it count under the
// new settings in a closed (or metrics-only) breaker. A half-open breaker
// starts its probing over under the new settings: probes admitted before
// the change no longer count.
//
// Name and Clock identify the breaker and cannot change: zero (or nil)
// means "as now", and another value is a [*ConfigError]. The zero Breaker
// is configured by its first Reconfigure as if by New(cfg).
func (b *Breaker) Reconfigure(cfg Config) error {
	b.load()
	b.mu.Lock()
	cur := b.s
	switch {
	case cfg.Name != "" && cfg.Name != cur.name:
		b.mu.Unlock()
		return badf("Name", cfg.Name, "cannot change at run time (it is %q)", cur.name)
	case cfg.Clock != nil && cfg.Clock != b.clk:
		b.mu.Unlock()
		return badf("Clock", cfg.Clock, "cannot change at run time")
	}
	cfg.Name, cfg.Clock = cur.name, b.clk
	s, err := validate(cfg)
	if err != nil {
		b.mu.Unlock()
		return err
	}
	b.s = &s
	from := b.cur.Load()
	sameShape := s.size == cur.size && s.width == cur.width && s.buckets == cur.buckets
	hasWindow := from.cw != nil || from.tw != nil
	g := b.newGenLocked(from.state, !sameShape && hasWindow)
	g.since, g.lastTrip = from.since, from.lastTrip
	switch from.state {
	case Closed, MetricsOnly:
		if sameShape {
			g.consec.Store(from.consec.Load())
			g.prev.Store(from) // its permits still count here
		}
		if from.ramping.Load() {
			g.rampStart, g.rampEnd = from.rampStart, from.rampEnd
			g.ramping.Store(true)
		}
	case Open, ForcedOpen:
		g.until, g.wait, g.reject = from.until, from.wait, from.reject
	case HalfOpen:
		g.slots.Store(s.probes)
	}
	b.stopTimerLocked()
	from.prev.Store(nil) // no chain of replaced generations is kept alive
	b.cur.Store(g)
	if g.state == Open {
		wait := max(g.until-b.clk.Nanotime(), 0)
		b.timer = b.clk.AfterFunc(time.Duration(wait), func() { b.halfOpen(g) })
	}
	b.mu.Unlock()
	return nil
}
