package concurrency

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
)

// An Algorithm learns a concurrency limit from what happened to the calls a
// [Limiter] admitted. The limiter gathers completed calls into sample
// windows and hands each window to Update, under its lock; the algorithm
// answers with the next limit. [AIMD], [Vegas], [Gradient2] and [Gradient]
// are the algorithms of this package. An Algorithm belongs to one Limiter.
// Build them with their New functions: a zero value has no bounds, keeps
// any limit it is given, and [NewLimiter] refuses it.
type Algorithm interface {
	// Bounds returns the limit to start from and the bounds the limit
	// stays within.
	Bounds() (initial, min, max int)
	// Update returns the next limit from the closing window and the limit
	// in force (not yet rounded down).
	Update(w Window, limit float64) Adjustment
}

// Adjustment is an [Algorithm]'s answer to one window: the next limit and
// why. (Decision, across Levee, names only the rate-limit decision,
// [levee.Decision].)
type Adjustment struct {
	// Limit is the next limit. The limiter keeps it within the algorithm's
	// bounds and admits floor(Limit) calls at once.
	Limit float64
	// Reason says why, with the measurements behind it; it becomes the
	// Reason of the [levee.EventLimitChange] event when the limit changes.
	Reason string
	// Pin marks a limit the algorithm sets on purpose whatever the load,
	// such as [Gradient]'s low limit while it measures the minimum latency,
	// and the return from it: the app-limited rule does not hold it back.
	Pin bool
}

// maxWindowRTTs bounds the latencies a window keeps for quantiles.
const maxWindowRTTs = 256

// Window is what a [Limiter] saw of the calls that completed in one sample
// window. Ignored outcomes are not in it.
type Window struct {
	// Start and End are the window's bounds on the limiter's clock
	// ([clock.Clock.Nanotime]).
	Start, End int64
	// Samples is how many calls completed; Drops how many of them failed
	// or timed out.
	Samples, Drops int
	// MinRTT, AvgRTT and MaxRTT summarise the calls' latencies.
	MinRTT, AvgRTT, MaxRTT time.Duration
	// MaxInFlight is the most calls in flight when any of them was
	// admitted, counting itself: the demand the window saw.
	MaxInFlight int
	// RTTs holds, sorted, the latencies of up to the first 256 calls of
	// the window, for [Window.Quantile]. It is only valid during Update.
	RTTs []time.Duration
}

// NewWindow summarises a window of calls with the given latencies, for
// tests and simulations that step an [Algorithm] directly. rtts is sorted
// in place.
func NewWindow(start, end int64, rtts []time.Duration, drops, maxInFlight int) Window {
	w := Window{Start: start, End: end, Samples: len(rtts), Drops: drops, MaxInFlight: maxInFlight}
	slices.Sort(rtts)
	w.RTTs = rtts
	if len(rtts) > 0 {
		var sum time.Duration
		for _, r := range rtts {
			sum += r
		}
		w.MinRTT, w.MaxRTT, w.AvgRTT = rtts[0], rtts[len(rtts)-1], sum/time.Duration(len(rtts))
	}
	return w
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of the window's kept
// latencies, by the nearest-rank method, or AvgRTT when none were kept.
func (w Window) Quantile(q float64) time.Duration {
	return quantile(w.RTTs, q, w.AvgRTT)
}

func quantile(sorted []time.Duration, q float64, def time.Duration) time.Duration {
	if len(sorted) == 0 {
		return def
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Defaults of [LimiterConfig].
const (
	DefaultMinWindow  = 100 * time.Millisecond
	DefaultMaxWindow  = time.Second
	DefaultMinSamples = 10
)

// LimiterConfig configures a [Limiter]. The zero value is a [Gradient2]
// limit with its defaults, refusing at once when the limit is reached.
type LimiterConfig struct {
	// Name labels the limiter's events.
	Name string
	// Algorithm learns the limit. Nil means a [Gradient2] with its
	// defaults. An algorithm must not be shared between limiters.
	Algorithm Algorithm
	// MinWindow and MaxWindow bound the length of a sample window: a
	// window lasts twice the smallest latency seen in the previous one,
	// within these bounds. Zero means [DefaultMinWindow] (100ms) and
	// [DefaultMaxWindow] (1s); negative is refused, and so is MaxWindow
	// below MinWindow. Netflix's library uses 1s windows; shorter ones let
	// the limit react within a second.
	MinWindow, MaxWindow time.Duration
	// MinSamples is how many calls a window needs before it closes: a
	// window that has run its time with fewer stays open. Zero means
	// [DefaultMinSamples] (10); negative is refused.
	MinSamples int
	// MaxQueue is how many calls may wait for a slot when the limit is
	// reached. Zero means no queue: the call is refused at once; negative
	// is refused.
	MaxQueue int
	// MaxWait is the longest a call waits in the queue. Zero means until a
	// slot frees or its context ends; negative is refused, and so is a
	// positive value without a queue.
	MaxWait time.Duration
	// LIFO serves the newest waiter first. Under sustained overload the
	// oldest waiters are the likeliest to have been given up on by their
	// callers, so LIFO keeps the latency of the calls that are served low
	// while the old ones time out. False means FIFO.
	LIFO bool
	// RetryAfter is the wait suggested to refused callers
	// ([levee.RetryAfter]). Zero means none is suggested; negative is
	// refused.
	RetryAfter time.Duration
	// Clock measures latencies and windows. Nil means [clock.Real].
	Clock clock.Clock
}

// Limiter is an adaptive concurrency limit: a gate that admits a call while
// fewer calls than the limit are in flight, and moves the limit by what
// its [Algorithm] learns from the latency and the failures of completed
// calls. It finds the concurrency at which a dependency (or the service
// itself) is busy but not queueing, without anyone having to know it.
//
// A refused call gets [levee.ErrShed] (with [LimiterConfig.RetryAfter]
// when set). With a queue ([LimiterConfig.MaxQueue]) a call waits for a slot
// instead, FIFO or LIFO, for at most [LimiterConfig.MaxWait].
//
// Outcomes teach the algorithm: a [levee.Failure] or a [levee.ErrTimeout] is
// a drop, [levee.Ignored] teaches nothing, and the latency is the
// outcome's, or the time since admission when the outcome has none. The
// limit never grows from a window in which fewer than half the limit were
// in flight: an application that does not use its limit has not shown it
// could use more. Every change is a [levee.EventLimitChange] event.
//
// Admission is one compare-and-swap and allocates nothing; recording an
// outcome is a few atomic adds, and once per window one call takes a lock
// to update the limit. All methods are safe for concurrent use. Build a
// Limiter with [NewLimiter]: a zero Limiter refuses every call with
// [ErrNotBuilt].
type Limiter struct {
	s slots // s.mu also guards limitF and scratch

	// The open window, written with atomics by every completion.
	wStart, wEnd              atomic.Int64
	wCount, wDrops            atomic.Int64
	wSum, wMin, wMax, wDemand atomic.Int64
	wRTTs                     [maxWindowRTTs]atomic.Int64

	name       string
	alg        Algorithm
	minLimit   float64
	maxLimit   float64
	minWindow  int64
	maxWindow  int64
	minSamples atomic.Int64
	rejection  atomic.Pointer[error] // never nil in a built Limiter
	clk        clock.Clock

	limitF  float64 // guarded by s.mu
	scratch [maxWindowRTTs]time.Duration

	listeners levee.Listeners
}

// NewLimiter returns an adaptive limit configured by cfg, or an error
// naming the first invalid field.
func NewLimiter(cfg LimiterConfig) (*Limiter, error) {
	switch {
	case cfg.MinWindow < 0:
		return nil, fmt.Errorf("concurrency: LimiterConfig.MinWindow = %v, want >= 0 (0 means %v)", cfg.MinWindow, DefaultMinWindow)
	case cfg.MaxWindow < 0:
		return nil, fmt.Errorf("concurrency: LimiterConfig.MaxWindow = %v, want >= 0 (0 means %v)", cfg.MaxWindow, DefaultMaxWindow)
	case cfg.MinSamples < 0:
		return nil, fmt.Errorf("concurrency: LimiterConfig.MinSamples = %d, want >= 0 (0 means %d)", cfg.MinSamples, DefaultMinSamples)
	case cfg.MaxQueue < 0:
		return nil, fmt.Errorf("concurrency: LimiterConfig.MaxQueue = %d, want >= 0 (0 means no queue)", cfg.MaxQueue)
	case cfg.MaxWait < 0:
		return nil, fmt.Errorf("concurrency: LimiterConfig.MaxWait = %v, want >= 0 (0 means until the context ends)", cfg.MaxWait)
	case cfg.MaxWait > 0 && cfg.MaxQueue == 0:
		return nil, fmt.Errorf("concurrency: LimiterConfig.MaxWait = %v needs MaxQueue > 0: without a queue no call waits", cfg.MaxWait)
	case cfg.RetryAfter < 0:
		return nil, fmt.Errorf("concurrency: LimiterConfig.RetryAfter = %v, want >= 0 (0 means none)", cfg.RetryAfter)
	}
	minW, maxW := cfg.MinWindow, cfg.MaxWindow
	if minW == 0 {
		minW = DefaultMinWindow
	}
	if maxW == 0 {
		maxW = max(DefaultMaxWindow, minW)
	}
	if maxW < minW {
		return nil, fmt.Errorf("concurrency: LimiterConfig.MaxWindow = %v, want >= MinWindow (%v)", maxW, minW)
	}
	alg := cfg.Algorithm
	if alg == nil {
		g, err := NewGradient2(Gradient2Config{})
		if err != nil {
			return nil, err
		}
		alg = g
	}
	initial, lo, hi := alg.Bounds()
	if lo < 1 || hi < lo || initial < lo || initial > hi {
		return nil, fmt.Errorf("concurrency: algorithm bounds initial=%d min=%d max=%d, want 1 <= min <= initial <= max (a zero AIMD, Vegas, Gradient or Gradient2 has none: build it with its New function)", initial, lo, hi)
	}
	l := &Limiter{
		name:      cfg.Name,
		alg:       alg,
		minLimit:  float64(lo),
		maxLimit:  float64(hi),
		minWindow: int64(minW),
		maxWindow: int64(maxW),
		clk:       clock.Or(cfg.Clock),
		limitF:    float64(initial),
	}
	l.minSamples.Store(int64(cmp0(cfg.MinSamples, DefaultMinSamples)))
	l.rejection.Store(rejectionFor(cfg.RetryAfter))
	l.s.setQueue(cfg.MaxQueue, cfg.MaxWait, cfg.LIFO)
	l.s.clk = l.clk
	l.s.limit.Store(int64(initial))
	now := l.clk.Nanotime()
	l.wStart.Store(now)
	l.wEnd.Store(now + l.minWindow)
	l.wMin.Store(math.MaxInt64)
	return l, nil
}

func cmp0(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Stage returns [levee.StageConcurrency].
func (l *Limiter) Stage() levee.Stage { return levee.StageConcurrency }

// OnEvent registers a listener for the limiter's events:
// [levee.EventLimitChange] on every change of the limit (Value the new
// limit, Threshold the old one, both in calls; Reason the algorithm's
// measurements) and [levee.EventRejected] for every refused call (Reason
// "limit" when the limit was reached with no room to wait, "wait" when
// MaxWait ran out; Value the calls in flight, Threshold the limit, in
// calls).
func (l *Limiter) OnEvent(fn levee.Listener) (remove func()) { return l.listeners.Add(fn) }

// Limit returns how many calls may run at once.
func (l *Limiter) Limit() int { return int(l.s.limit.Load()) }

// InFlight returns how many admitted calls have not been settled.
func (l *Limiter) InFlight() int { return int(l.s.inflight.Load()) }

// Queued returns how many calls wait for a slot.
func (l *Limiter) Queued() int { return int(l.s.q.n.Load()) }

// Acquire admits a call while fewer than the limit are in flight; otherwise
// it queues the call if there is room, or refuses it with [levee.ErrShed].
// A call whose context ends while it waits leaves with the context's error.
// The permit must be settled exactly once; its outcome teaches the limit.
func (l *Limiter) Acquire(ctx context.Context) (levee.Permit, error) {
	if n, ok := l.s.admitNow(); ok {
		return l.permit(n), nil
	}
	if l.clk == nil {
		return levee.Permit{}, ErrNotBuilt
	}
	n, full, timedOut, err := l.s.acquire(ctx)
	switch {
	case err != nil:
		return levee.Permit{}, err
	case full:
		return levee.Permit{}, l.reject(ctx, "limit")
	case timedOut:
		return levee.Permit{}, l.reject(ctx, "wait")
	}
	return l.permit(n), nil
}

// permit issues the permit of a call that holds a slot; demand is the
// calls in flight when it was admitted, itself included.
func (l *Limiter) permit(demand int64) levee.Permit {
	return levee.NewPermit(l, l.s.claim(demand), l.clk.Nanotime())
}

// Release records the call's outcome and frees its slot. Only [levee.Permit]
// calls it. A permit settled before, one from an earlier admission and one
// the limiter did not issue neither free a slot nor teach the limit.
func (l *Limiter) Release(p levee.Permit, o levee.Outcome) {
	demand, ok := l.s.settle(p.Token())
	if !ok || o.Result == levee.Ignored {
		return
	}
	now := l.clk.Nanotime()
	rtt := int64(o.Latency)
	if rtt <= 0 {
		rtt = max(now-p.Start(), 1)
	}
	drop := o.Result == levee.Failure || (o.Err != nil && errors.Is(o.Err, levee.ErrTimeout))
	l.sample(now, rtt, demand, drop)
}

// sample adds one completion to the open window, and closes the window
// when it is due.
func (l *Limiter) sample(now, rtt, demand int64, drop bool) {
	i := l.wCount.Add(1) - 1
	if i < maxWindowRTTs {
		l.wRTTs[i].Store(rtt)
	}
	l.wSum.Add(rtt)
	if drop {
		l.wDrops.Add(1)
	}
	storeMin(&l.wMin, rtt)
	storeMax(&l.wMax, rtt)
	storeMax(&l.wDemand, demand)
	if now >= l.wEnd.Load() && i+1 >= l.minSamples.Load() && l.s.mu.TryLock() {
		l.closeWindowLocked(now)
	}
}

func storeMin(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v >= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// closeWindowLocked hands the open window to the algorithm and opens the
// next one. It unlocks l.s.mu, and emits the limit change outside the lock.
func (l *Limiter) closeWindowLocked(now int64) {
	if now < l.wEnd.Load() || l.wCount.Load() < l.minSamples.Load() {
		l.s.mu.Unlock()
		return
	}
	n := l.wCount.Swap(0)
	w := Window{
		Start:       l.wStart.Load(),
		End:         now,
		Samples:     int(n),
		Drops:       int(l.wDrops.Swap(0)),
		MinRTT:      time.Duration(l.wMin.Swap(math.MaxInt64)),
		MaxRTT:      time.Duration(l.wMax.Swap(0)),
		MaxInFlight: int(l.wDemand.Swap(0)),
	}
	sum := l.wSum.Swap(0)
	if n > 0 {
		w.AvgRTT = time.Duration(sum / n)
	}
	k := int(min(n, maxWindowRTTs))
	for i := range k {
		l.scratch[i] = time.Duration(l.wRTTs[i].Load())
	}
	w.RTTs = l.scratch[:k]
	slices.Sort(w.RTTs)
	if w.MinRTT == math.MaxInt64 {
		w.MinRTT = 0
	}
	length := min(max(2*int64(w.MinRTT), l.minWindow), l.maxWindow)
	l.wStart.Store(now)
	l.wEnd.Store(now + length)

	old := l.limitF
	d := l.alg.Update(w, old)
	next := d.Limit
	if math.IsNaN(next) {
		next = old
	}
	if next > old && !d.Pin && w.MaxInFlight*2 < int(old) {
		next = old // app-limited: demand never reached half the limit
	}
	next = min(max(next, l.minLimit), l.maxLimit)
	l.limitF = next
	oldN, newN := int64(old), int64(next)
	if newN != oldN {
		l.s.setLimitLocked(newN)
	}
	l.s.mu.Unlock()
	if newN != oldN && l.listeners.Active() {
		l.listeners.Emit(levee.Event{Kind: levee.EventLimitChange, Policy: "adaptive", Name: l.name,
			Time: l.clk.Now(), Value: float64(newN), Threshold: float64(oldN), Reason: d.Reason})
	}
}

func (l *Limiter) reject(ctx context.Context, reason string) error {
	if l.listeners.Active() {
		wait, _ := levee.RetryAfter(*l.rejection.Load())
		l.listeners.Emit(levee.Event{Kind: levee.EventRejected, Policy: "adaptive", Name: l.name,
			Time: l.clk.Now(), Reason: reason, Value: float64(l.s.inflight.Load()),
			Threshold: float64(l.s.limit.Load()), Wait: wait, Err: *l.rejection.Load(), Context: ctx})
	}
	return *l.rejection.Load()
}

var (
	_ levee.Gate     = (*Limiter)(nil)
	_ levee.Releaser = (*Limiter)(nil)
)
