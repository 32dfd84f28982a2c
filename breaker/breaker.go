package breaker

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/internal/callwindow"
)

// State is a breaker's state.
type State uint8

// The states. Closed, Open and HalfOpen are automatic; ForcedOpen, Disabled
// and MetricsOnly are set by hand and left with [Breaker.Reset].
const (
	// Closed admits calls and counts them in the window.
	Closed State = iota
	// Open rejects every call with a rejection carrying the remaining wait.
	Open
	// HalfOpen admits a fixed number of probe calls at once.
	HalfOpen
	// ForcedOpen rejects every call until [Breaker.Reset].
	ForcedOpen
	// Disabled admits every call and records nothing.
	Disabled
	// MetricsOnly admits every call and records it, but never trips.
	MetricsOnly
)

// String returns the state's name in snake case: "closed", "open",
// "half_open", "forced_open", "disabled" or "metrics_only".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	case ForcedOpen:
		return "forced_open"
	case Disabled:
		return "disabled"
	case MetricsOnly:
		return "metrics_only"
	}
	return "unknown"
}

// Reasons carried by events ([levee.Event.Reason]) and by [Trip].
const (
	// Trips: the condition that opened the breaker.
	ReasonFailureRate         = "failure_rate"
	ReasonSlowCallRate        = "slow_call_rate"
	ReasonConsecutiveFailures = "consecutive_failures"
	ReasonProbeFailureRate    = "probe_failure_rate"
	ReasonProbeSlowCallRate   = "probe_slow_call_rate"
	ReasonProbeTimeout        = "probe_timeout"
	// Other transitions.
	ReasonOpenWaitElapsed = "open_wait_elapsed"
	ReasonProbesSucceeded = "probes_succeeded"
	ReasonForcedOpen      = "forced_open"
	ReasonDisabled        = "disabled"
	ReasonMetricsOnly     = "metrics_only"
	ReasonReset           = "reset"
	// Rejections.
	ReasonOpen         = "open"
	ReasonProbesBusy   = "probes_busy"
	ReasonRecoveryRamp = "recovery_ramp"
	ReasonAdaptive     = "adaptive_throttling"
)

// Trip describes why the breaker last opened.
type Trip struct {
	// Reason is the condition: ReasonFailureRate, ReasonSlowCallRate,
	// ReasonConsecutiveFailures, ReasonProbeFailureRate,
	// ReasonProbeSlowCallRate or ReasonProbeTimeout. Empty when the breaker
	// never tripped.
	Reason string
	// Value is what was measured and Threshold the limit it reached, in
	// one unit: a percentage of calls (0–100) for the rate reasons, a
	// count of calls for ReasonConsecutiveFailures, and of probes overdue
	// for ReasonProbeTimeout (whose threshold is 1: one overdue probe
	// reopens the breaker).
	Value, Threshold float64
	// Time is when the breaker opened.
	Time time.Time
	// Wait is the open wait chosen.
	Wait time.Duration
	// WaitFromRetryAfter reports that Wait came from the Retry-After of
	// the tripping failure (Config.HonorRetryAfter), not from OpenWait.
	WaitFromRetryAfter bool
	// Err is the error of the call that tripped the breaker, if any.
	Err error
}

// Breaker is a circuit breaker: it stops calling a dependency that keeps
// failing, so the dependency gets room to recover and callers fail fast.
// See the package documentation for the state machine.
//
// Create one with [New]; the zero Breaker is ready to use too, as one made
// by New(Config{}). Call [Breaker.Allow] before a call and settle the
// returned permit with its outcome; or put the breaker in a
// [levee.Pipeline]. A Breaker is safe for concurrent use; admitting and
// recording cost no allocation.
type Breaker struct {
	cur atomic.Pointer[gen]
	s   *settings // for the next generation; guarded by mu (lock-free readers use gen.s)
	clk clock.Clock

	listeners levee.Listeners

	mu       sync.Mutex
	trips    int
	timer    clock.Timer
	pending  []levee.Event
	spare    []levee.Event
	draining bool
}

// gen is the breaker's state for one generation: everything that lives
// from one transition to the next. It is replaced, never reset, on each
// transition, so a result that arrives late from an earlier generation can
// only touch a window nobody reads any more.
type gen struct {
	s         *settings // the settings this generation runs under
	state     State
	since     time.Time
	trips     int  // consecutive trips when this generation began
	lastTrip  Trip // the last trip, carried across generations
	reject    error
	until     int64 // open: Nanotime when the wait ends
	wait      time.Duration
	cw        *callwindow.Count
	tw        *callwindow.Time
	rampStart int64
	rampEnd   int64
	// prev is the generation a Reconfigure replaced without a transition
	// (same state, same window): its permits still count (see adopt).
	prev atomic.Pointer[gen]

	_       [64]byte
	consec  atomic.Int64
	ramping atomic.Bool
	_       [64]byte
	slots   atomic.Int64 // half-open: probes that may still be admitted
	timing  atomic.Bool  // half-open: a probe timeout is armed
	pDone   atomic.Int64
	pFail   atomic.Int64
	pSlow   atomic.Int64
}

// New returns a breaker configured by cfg, closed, or a [*ConfigError] when
// cfg holds an invalid setting.
func New(cfg Config) (*Breaker, error) {
	s, err := validate(cfg)
	if err != nil {
		return nil, err
	}
	b := &Breaker{s: &s, clk: s.clk}
	b.mu.Lock()
	b.cur.Store(b.newGenLocked(Closed, false))
	b.mu.Unlock()
	return b, nil
}

func (b *Breaker) newWindow(g *gen) {
	if g.s.width > 0 {
		g.tw = callwindow.NewTime(g.s.width, g.s.buckets, b.clk.Nanotime())
	} else {
		g.cw = callwindow.NewCount(g.s.size)
	}
}

// newGenLocked makes the next generation in state st. It carries the last
// trip over from the current generation, and its window too unless
// freshWindow is set; closed and metrics-only generations always get one.
func (b *Breaker) newGenLocked(st State, freshWindow bool) *gen {
	g := &gen{s: b.s, state: st, since: b.clk.Now(), trips: b.trips, reject: levee.ErrOpen}
	if prev := b.cur.Load(); prev != nil {
		g.lastTrip = prev.lastTrip
		if !freshWindow {
			g.cw, g.tw = prev.cw, prev.tw
		}
	}
	if (st == Closed || st == MetricsOnly) && (freshWindow || (g.cw == nil && g.tw == nil)) {
		b.newWindow(g)
	}
	return g
}

// Stage places the breaker in a pipeline: [levee.StageBreaker].
func (b *Breaker) Stage() levee.Stage { return levee.StageBreaker }

// Name returns the configured name.
func (b *Breaker) Name() string {
	return b.load().s.name
}

// load returns the current generation. The zero Breaker has none until its
// first use, when it takes the settings of the zero [Config].
func (b *Breaker) load() *gen {
	if g := b.cur.Load(); g != nil {
		return g
	}
	return b.loadSlow()
}

// loadSlow is load's first use of a zero Breaker, kept apart so that load
// inlines.
func (b *Breaker) loadSlow() *gen {
	b.mu.Lock()
	defer b.mu.Unlock()
	if g := b.cur.Load(); g != nil {
		return g
	}
	s, _ := validate(Config{}) // the zero Config is valid
	b.s, b.clk = &s, s.clk
	g := b.newGenLocked(Closed, false)
	b.cur.Store(g)
	return g
}

// State returns the current state (one atomic load).
func (b *Breaker) State() State { return b.load().state }

// Acquire implements [levee.Gate]: it is [Breaker.Allow]; ctx is not used.
func (b *Breaker) Acquire(ctx context.Context) (levee.Permit, error) { return b.Allow() }

// Allow admits a call or rejects it. A rejection matches [levee.ErrOpen]
// and [levee.ErrRejected]; while the breaker is open it also carries the
// remaining wait ([levee.RetryAfter]). An admitted call's permit must be
// settled with [levee.Permit.Done] or [levee.Permit.Record] when the call
// ends. Allow costs no allocation.
func (b *Breaker) Allow() (levee.Permit, error) {
	g := b.load()
	if g.state == Closed && !g.s.adaptive && !g.s.measure && !g.ramping.Load() {
		// The common case, a closed breaker that admits every call,
		// inlined here: a ticket and its token.
		t := tickets.Get().(*ticket)
		t.claim(b, g)
		return levee.NewPermit(t, t.seq.Load(), 0), nil
	}
	return b.allow(g)
}

// allow is Allow for every state but a plain closed one.
func (b *Breaker) allow(g *gen) (levee.Permit, error) {
	switch g.state {
	case Closed:
		if g.s.adaptive || g.ramping.Load() {
			if err := b.throttle(g); err != nil {
				return levee.Permit{}, err
			}
		}
		return b.permit(g), nil
	case Open:
		if b.listeners.Active() {
			b.emitRejection(g, ReasonOpen, time.Duration(g.until-b.clk.Nanotime()))
		}
		return levee.Permit{}, g.reject
	case HalfOpen:
		for {
			n := g.slots.Load()
			if n <= 0 {
				if b.listeners.Active() {
					b.emitRejection(g, ReasonProbesBusy, 0)
				}
				return levee.Permit{}, g.reject
			}
			if g.slots.CompareAndSwap(n, n-1) {
				if g.s.probeWait > 0 && !g.timing.Load() {
					b.armProbeTimeout(g)
				}
				return b.permit(g), nil
			}
		}
	case MetricsOnly:
		return b.permit(g), nil
	case ForcedOpen:
		if b.listeners.Active() {
			b.emitRejection(g, ReasonForcedOpen, 0)
		}
		return levee.Permit{}, g.reject
	}
	return levee.Permit{}, nil // Disabled: a permit that records nothing
}

// permit admits a call of generation g: it takes a ticket from the pool
// and hands it out with its current sequence number as the permit's token.
func (b *Breaker) permit(g *gen) levee.Permit {
	var start int64
	if g.s.measure {
		start = b.clk.Nanotime()
	}
	t := tickets.Get().(*ticket)
	t.claim(b, g)
	return levee.NewPermit(t, t.seq.Load(), start)
}

// ticket is what a permit of a [Breaker] settles through: one admitted
// call's claim on the breaker. Its sequence number advances when the
// permit is settled, so a permit counts once: a second settle of it, or of
// any copy, finds the number moved on and does nothing, and so does a
// settle of a permit whose ticket has since been reused by another call.
// Tickets are pooled, so admitting costs no allocation; one is taken only
// by admitted calls and returned by their first settle.
type ticket struct {
	seq atomic.Uint64
	// b and g are written by the admitting call before the permit exists
	// and read only by the settle that advanced seq. A returned ticket
	// keeps them until its next claim (the pool drops idle tickets within
	// two garbage collections), so a goroutine that admits calls of one
	// breaker in a row takes back a ticket that needs no write.
	b *Breaker
	g *gen
}

var tickets = sync.Pool{New: func() any { return new(ticket) }}

// claim points the ticket at generation g of b; a ticket taken back by
// the breaker and generation it last served is left as it is.
func (t *ticket) claim(b *Breaker, g *gen) {
	if t.b != b {
		t.b = b
	}
	if t.g != g {
		t.g = g
	}
}

// Release implements [levee.Releaser] for the breaker's permits:
// [levee.Permit] calls it. Only the first settle of a permit counts.
func (t *ticket) Release(p levee.Permit, o levee.Outcome) {
	if !t.seq.CompareAndSwap(p.Token(), p.Token()+1) {
		return
	}
	b, g := t.b, t.g
	tickets.Put(t)
	if o.Result == levee.Success && b.unchangedBySuccess(g) {
		return
	}
	b.settle(g, p, o)
}

// unchangedBySuccess reports whether recording a success in generation g
// would change nothing: a closed breaker whose count window holds only
// successes, with no run of failures, whose outcomes are not reclassified
// and whose calls are not timed. That is a healthy breaker's every call,
// and the check is a few atomic loads with no write and no clock read.
func (b *Breaker) unchangedBySuccess(g *gen) bool {
	return g.state == Closed && g.cw != nil && g.s.classifier == nil && !g.s.needNow &&
		g.cw.OnlySuccesses() && g.consec.Load() == 0
}

// throttle decides whether a closed breaker that is ramping up or
// throttling adaptively rejects this call.
func (b *Breaker) throttle(g *gen) error {
	now := b.clk.Nanotime()
	if g.s.adaptive {
		p := b.rejectProbability(g, now)
		if p <= 0 || rand.Float64() >= p {
			return nil
		}
		// A throttled request is a request the backend did not accept.
		if g.tw != nil {
			g.tw.Add(now, true, false)
		} else {
			g.cw.Add(true, false)
		}
		if b.listeners.Active() {
			b.emitRejectionValue(g, ReasonAdaptive, 100*p, 0)
		}
		return g.reject
	}
	if now >= g.rampEnd {
		g.ramping.Store(false)
		return nil
	}
	share := rampShare(g, now)
	if rand.Float64() < share {
		return nil
	}
	if b.listeners.Active() {
		b.emitRejectionValue(g, ReasonRecoveryRamp, 100*share, 0)
	}
	return g.reject
}

func rampShare(g *gen, now int64) float64 {
	if !g.ramping.Load() || now >= g.rampEnd {
		return 1
	}
	return float64(now-g.rampStart) / float64(g.rampEnd-g.rampStart)
}

// rejectProbability is adaptive throttling's formula over the window.
func (b *Breaker) rejectProbability(g *gen, now int64) float64 {
	c := windowCounts(g, now)
	requests, accepts := float64(c.Calls), float64(c.Successes())
	return max(0, (requests-g.s.k*accepts)/(requests+1))
}

func windowCounts(g *gen, now int64) callwindow.Counts {
	switch {
	case g.tw != nil:
		return g.tw.CountsAt(now)
	case g.cw != nil:
		return g.cw.Counts()
	}
	return callwindow.Counts{}
}

// settle records the first settle of a permit admitted in generation g.
// Results of permits from an earlier generation (admitted before a
// transition) are discarded.
func (b *Breaker) settle(g *gen, p levee.Permit, o levee.Outcome) {
	if cur := b.cur.Load(); cur != g {
		if cur.prev.Load() != g {
			return
		}
		g = cur // adopted by a Reconfigure: same state, same window
	}
	res := o.Result
	if g.s.classifier != nil {
		res = g.s.classifier(o.Err)
	}
	if res != levee.Success && res != levee.Failure {
		if g.state == HalfOpen {
			g.slots.Add(1) // an ignored probe gives its slot back
		}
		return
	}
	failure := res == levee.Failure
	var now int64
	if g.s.needNow {
		now = b.clk.Nanotime()
	}
	slow := false
	if g.s.measure {
		lat := o.Latency
		if lat <= 0 {
			lat = time.Duration(now - p.Start())
		}
		slow = lat >= g.s.slowDur
	}
	if g.state == HalfOpen {
		b.recordProbe(g, failure, slow, o.Err)
		return
	}
	b.record(g, now, failure, slow, o.Err)
}

// record counts a call of a closed (or metrics-only) generation and trips
// the breaker when a condition is met.
func (b *Breaker) record(g *gen, now int64, failure, slow bool, err error) {
	var fails, slows int64
	if g.tw != nil {
		g.tw.Add(now, failure, slow)
		fails, slows = g.tw.Failures(), g.tw.Slow()
	} else {
		g.cw.Add(failure, slow)
		fails, slows = g.cw.Failures(), g.cw.Slow()
	}
	if failure {
		n := g.consec.Add(1)
		if g.s.consec > 0 && n >= g.s.consec && g.state == Closed {
			b.trip(g, Trip{Reason: ReasonConsecutiveFailures, Value: float64(n), Threshold: float64(g.s.consec), Err: err})
			return
		}
	} else if g.consec.Load() != 0 {
		g.consec.Store(0)
	}
	if g.state != Closed || !g.s.checkRates || (fails == 0 && slows == 0) {
		return
	}
	c := windowCounts(g, now)
	if c.Calls < g.s.minCalls || c.Calls == 0 {
		return
	}
	if g.s.failRate > 0 {
		if r := percent(c.Failures, c.Calls); r >= g.s.failRate {
			b.trip(g, Trip{Reason: ReasonFailureRate, Value: r, Threshold: g.s.failRate, Err: failErr(failure, err)})
			return
		}
	}
	if g.s.slowRate > 0 {
		if r := percent(c.Slow, c.Calls); r >= g.s.slowRate {
			b.trip(g, Trip{Reason: ReasonSlowCallRate, Value: r, Threshold: g.s.slowRate, Err: failErr(failure, err)})
		}
	}
}

func failErr(failure bool, err error) error {
	if failure {
		return err
	}
	return nil
}

func percent(n, of int64) float64 {
	if of <= 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// recordProbe counts a half-open probe's result: the breaker reopens as
// soon as the probes' failure (or slow-call) rate reaches its threshold,
// and closes once every probe has reported below it.
func (b *Breaker) recordProbe(g *gen, failure, slow bool, err error) {
	var fails, slows int64
	if failure {
		fails = g.pFail.Add(1)
	} else {
		fails = g.pFail.Load()
	}
	if slow {
		slows = g.pSlow.Add(1)
	} else {
		slows = g.pSlow.Load()
	}
	done := g.pDone.Add(1)
	n := g.s.probes
	// Rates are over all N probes, so the breaker knows as early as
	// possible that they cannot end below the threshold. With the failure
	// rate disabled, any probe failure reopens.
	failThr := g.s.failRate
	if failThr <= 0 {
		failThr = math.SmallestNonzeroFloat64
	}
	if r := percent(fails, n); fails > 0 && r >= failThr {
		b.trip(g, Trip{Reason: ReasonProbeFailureRate, Value: r, Threshold: max(g.s.failRate, 0), Err: failErr(failure, err)})
		return
	}
	if g.s.slowRate > 0 {
		if r := percent(slows, n); slows > 0 && r >= g.s.slowRate {
			b.trip(g, Trip{Reason: ReasonProbeSlowCallRate, Value: r, Threshold: g.s.slowRate, Err: failErr(failure, err)})
			return
		}
	}
	if done >= n {
		b.close(g)
	}
}

// trip opens the breaker from generation g, unless another transition got
// there first.
func (b *Breaker) trip(g *gen, t Trip) {
	b.mu.Lock()
	if b.cur.Load() != g {
		b.mu.Unlock()
		return
	}
	b.openLocked(g, t)
	b.mu.Unlock()
	b.flush()
}

func (b *Breaker) openLocked(from *gen, t Trip) {
	b.trips++
	wait, fromRA := b.openWait(b.trips, t.Err)
	nano := b.clk.Nanotime()
	g := b.newGenLocked(Open, false)
	t.Time, t.Wait, t.WaitFromRetryAfter = g.since, wait, fromRA
	g.lastTrip = t
	g.until = nano + int64(wait)
	if g.until < nano { // a wait of centuries
		g.until = math.MaxInt64
	}
	g.wait = wait
	g.reject = levee.RejectUntil(levee.ErrOpen, b.clk, g.until)
	b.stopTimerLocked()
	b.cur.Store(g)
	b.timer = b.clk.AfterFunc(wait, func() { b.halfOpen(g) })
	b.queueLocked(levee.Event{Kind: levee.EventStateChange, From: from.state.String(), To: Open.String(),
		Time: g.since, Reason: t.Reason, Value: t.Value, Threshold: t.Threshold, Wait: wait, Err: t.Err})
}

// openWait is the wait after the n-th consecutive trip.
func (b *Breaker) openWait(n int, err error) (time.Duration, bool) {
	if b.s.honorRA && err != nil {
		if ra, ok := levee.RetryAfter(err); ok && ra > 0 {
			return min(ra, b.s.waitMax), true
		}
	}
	w := float64(b.s.openWait)
	if b.s.mult > 1 {
		w = min(w*math.Pow(b.s.mult, float64(n-1)), float64(b.s.waitMax)) // Pow may overflow to +Inf
	}
	if b.s.jitter > 0 {
		w *= 1 + b.s.jitter*(2*rand.Float64()-1)
	}
	w = min(w, float64(b.s.waitMax))
	if w >= math.MaxInt64 {
		return math.MaxInt64, false
	}
	return max(time.Duration(w), 1), false
}

// halfOpen moves an open generation g to half-open; the open wait's timer
// calls it.
func (b *Breaker) halfOpen(from *gen) {
	b.mu.Lock()
	if b.cur.Load() != from {
		b.mu.Unlock()
		return
	}
	b.timer = nil
	g := b.newGenLocked(HalfOpen, false)
	g.slots.Store(b.s.probes)
	b.cur.Store(g)
	b.queueLocked(levee.Event{Kind: levee.EventStateChange, From: Open.String(), To: HalfOpen.String(),
		Time: g.since, Reason: ReasonOpenWaitElapsed, Wait: from.wait})
	b.mu.Unlock()
	b.flush()
}

// armProbeTimeout starts the probe timeout of half-open generation g when
// its first probe (or the first since the last timeout found none out) is
// admitted.
func (b *Breaker) armProbeTimeout(g *gen) {
	b.mu.Lock()
	if b.cur.Load() == g && g.timing.CompareAndSwap(false, true) {
		b.stopTimerLocked()
		b.timer = b.clk.AfterFunc(b.s.probeWait, func() { b.probesOverdue(g) })
	}
	b.mu.Unlock()
}

// probesOverdue runs ProbeTimeout after g's probe timeout was armed: a probe
// admitted and not reported by now reopens the breaker. With none out, the
// next probe admitted arms the timeout again.
func (b *Breaker) probesOverdue(g *gen) {
	b.mu.Lock()
	if b.cur.Load() != g {
		b.mu.Unlock()
		return
	}
	b.timer = nil
	g.timing.Store(false)
	out := g.s.probes - g.slots.Load() - g.pDone.Load()
	if out > 0 {
		b.openLocked(g, Trip{Reason: ReasonProbeTimeout, Value: float64(out), Threshold: 1})
	}
	b.mu.Unlock()
	b.flush()
}

// close moves a half-open generation whose probes succeeded to closed.
func (b *Breaker) close(from *gen) {
	b.mu.Lock()
	if b.cur.Load() != from {
		b.mu.Unlock()
		return
	}
	b.trips = 0
	b.stopTimerLocked() // the probe timeout
	g := b.newGenLocked(Closed, true)
	if b.s.ramp > 0 {
		g.rampStart = b.clk.Nanotime()
		g.rampEnd = g.rampStart + int64(b.s.ramp)
		g.ramping.Store(true)
	}
	b.cur.Store(g)
	b.queueLocked(levee.Event{Kind: levee.EventStateChange, From: HalfOpen.String(), To: Closed.String(),
		Time: g.since, Reason: ReasonProbesSucceeded, Value: float64(from.pDone.Load() - from.pFail.Load()),
		Threshold: float64(from.s.probes)})
	b.mu.Unlock()
	b.flush()
}

// ForceOpen holds the breaker open, rejecting every call with
// [levee.ErrOpen], until [Breaker.Reset].
func (b *Breaker) ForceOpen() { b.manual(ForcedOpen, ReasonForcedOpen) }

// Disable makes the breaker admit every call and record nothing, until
// [Breaker.Reset].
func (b *Breaker) Disable() { b.manual(Disabled, ReasonDisabled) }

// MetricsOnly makes the breaker admit every call and record it in a fresh
// window (visible in [Breaker.Snapshot]) without ever tripping, until
// [Breaker.Reset].
func (b *Breaker) MetricsOnly() { b.manual(MetricsOnly, ReasonMetricsOnly) }

// Reset returns the breaker to automatic operation: closed, with an empty
// window, no recovery ramp and the open-wait backoff back at its start.
func (b *Breaker) Reset() { b.manual(Closed, ReasonReset) }

func (b *Breaker) manual(st State, reason string) {
	b.load()
	b.mu.Lock()
	from := b.cur.Load()
	if st != Closed && from.state == st {
		b.mu.Unlock()
		return
	}
	b.stopTimerLocked()
	if st == Closed {
		b.trips = 0
	}
	g := b.newGenLocked(st, true)
	b.cur.Store(g)
	if from.state != st {
		b.queueLocked(levee.Event{Kind: levee.EventStateChange, From: from.state.String(), To: st.String(),
			Time: g.since, Reason: reason})
	}
	b.mu.Unlock()
	b.flush()
}

func (b *Breaker) stopTimerLocked() {
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
}

// OnEvent registers a listener for the breaker's events: every state
// change (with its reason and, for a trip, the measured value and
// threshold) and every rejection. Listeners run outside the breaker's
// locks and may call any method of the breaker. State changes reach them
// in the order they happened, even when a listener itself causes one;
// rejections are emitted by the rejected caller as they happen.
func (b *Breaker) OnEvent(fn levee.Listener) (remove func()) { return b.listeners.Add(fn) }

func (b *Breaker) queueLocked(e levee.Event) {
	if !b.listeners.Active() {
		return
	}
	e.Policy, e.Name = "breaker", b.s.name
	b.pending = append(b.pending, e)
}

// flush emits queued state changes in order, outside the lock. Only one
// goroutine emits at a time; one that finds another emitting leaves its
// events to it, so a listener that causes a transition does not deadlock.
func (b *Breaker) flush() {
	b.mu.Lock()
	if b.draining {
		b.mu.Unlock()
		return
	}
	b.draining = true
	for len(b.pending) > 0 {
		evs := b.pending
		b.pending = b.spare[:0]
		b.mu.Unlock()
		for _, e := range evs {
			b.listeners.Emit(e)
		}
		clear(evs)
		b.mu.Lock()
		b.spare = evs[:0]
	}
	b.draining = false
	b.mu.Unlock()
}

func (b *Breaker) emitRejection(g *gen, reason string, wait time.Duration) {
	b.listeners.Emit(levee.Event{Kind: levee.EventRejected, Policy: "breaker", Name: g.s.name,
		Time: b.clk.Now(), From: g.state.String(), Reason: reason, Wait: max(wait, 0), Err: g.reject})
}

func (b *Breaker) emitRejectionValue(g *gen, reason string, v float64, wait time.Duration) {
	b.listeners.Emit(levee.Event{Kind: levee.EventRejected, Policy: "breaker", Name: g.s.name,
		Time: b.clk.Now(), From: g.state.String(), Reason: reason, Value: v, Wait: wait, Err: g.reject})
}

var (
	_ levee.Gate     = (*Breaker)(nil)
	_ levee.Releaser = (*ticket)(nil)
)
