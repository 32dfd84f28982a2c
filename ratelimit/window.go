package ratelimit

import (
	"context"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
)

// WindowConfig configures a [SlidingWindow]. The zero value is a limiter
// with no limit.
type WindowConfig struct {
	// Name labels the limiter's events.
	Name string
	// Rate is the limit per window: Rate{Events: 100, Per: time.Minute}
	// admits 100 calls in any minute (as estimated). Events is the limit,
	// at most [MaxWindowLimit]; zero means no limit. Per is the window;
	// zero means one second.
	Rate Rate
	// Clock is the source of time. Nil means [clock.Real].
	Clock clock.Clock
	// CoarseClock reads the time from the process-wide coarse clock, as
	// [Config.CoarseClock] describes: a call is counted in the window its
	// reading falls in, up to 1ms late, so windows much longer than 1ms are
	// the ones that suit it.
	CoarseClock bool
}

// MaxWindowLimit is the largest limit a [SlidingWindow] can count: its two
// counters and the window number share one 64-bit word.
const MaxWindowLimit = 1<<countBits - 1

const (
	countBits = 21
	epochBits = 64 - 2*countBits // 22
	countMask = 1<<countBits - 1
	epochMask = 1<<epochBits - 1
)

// SlidingWindow is a sliding-window counter: it counts calls in fixed
// windows and estimates the count over the last window's length by
// weighting the previous window by the part of it still in view:
//
//	estimate = prev × (W − e) / W + cur      (e = time into the current window)
//
// A request for n is admitted when estimate + n ≤ limit, compared exactly
// (in integers, rounding the weighted count up). Compared with a
// token bucket it forgets bursts after at most two windows and has no
// steady trickle: it answers "at most L per W" the way dashboards count.
//
// Both counters and the window number (modulo 2^22) live in one 64-bit word
// updated by compare-and-swap, so deciding is lock-free and allocation-free.
// One consequence: a limiter left idle for an exact multiple of 2^22 windows
// (48 days of one-second windows) mistakes its stale counts for current ones
// once. RetryAfter and Reset are exact for the estimate's formula.
// Reset is the time until the estimate is zero: the end of the next window
// when the current one has counted anything.
//
// A SlidingWindow is safe for concurrent use. Make one with
// [NewSlidingWindow]: the zero value has no clock and no limit, so it
// refuses every call (Allow false, Decide a refusal with RetryAfter
// [levee.Never]) and its methods that return an error return [ErrNotNew].
type SlidingWindow struct {
	state     atomic.Uint64 // epoch | prev | cur
	p         atomic.Pointer[windowParams]
	clk       clock.Clock
	name      string
	mu        sync.Mutex
	err       limitedError
	listeners levee.Listeners
}

type windowParams struct {
	rate   Rate
	limit  int64 // 0 means no limit
	window int64
}

func newWindowParams(r Rate) (*windowParams, error) {
	if err := r.validate("Rate"); err != nil {
		return nil, err
	}
	if r.Events > MaxWindowLimit {
		return nil, fmt.Errorf("ratelimit: Rate.Events = %d, want <= %d", r.Events, MaxWindowLimit)
	}
	w := int64(r.period())
	if w > maxSpan {
		return nil, fmt.Errorf("ratelimit: Rate.Per = %v, want <= %v", r.Per, time.Duration(maxSpan))
	}
	return &windowParams{rate: r, limit: int64(r.Events), window: w}, nil
}

// NewSlidingWindow returns a sliding-window limiter configured by cfg, or an
// error naming the invalid field.
func NewSlidingWindow(cfg WindowConfig) (*SlidingWindow, error) {
	p, err := newWindowParams(cfg.Rate)
	if err != nil {
		return nil, err
	}
	clk, err := pickClock(cfg.Clock, cfg.CoarseClock)
	if err != nil {
		return nil, err
	}
	w := &SlidingWindow{clk: clk, name: cfg.Name}
	w.p.Store(p)
	w.err.l = w
	return w, nil
}

func pack(epoch, prev, cur uint64) uint64 {
	return epoch<<(2*countBits) | prev<<countBits | cur
}

func unpack(s uint64) (epoch, prev, cur uint64) {
	return s >> (2 * countBits), s >> countBits & countMask, s & countMask
}

// at returns the window number (masked) and the time into it for now.
func (p *windowParams) at(now int64) (epoch uint64, elapsed int64) {
	q := now / p.window
	if now%p.window < 0 {
		q--
	}
	return uint64(q) & epochMask, now - q*p.window
}

// roll brings the counters of state s to window epoch.
func roll(s, epoch uint64) (prev, cur uint64) {
	e, prev, cur := unpack(s)
	switch (epoch - e) & epochMask {
	case 0:
		return prev, cur
	case 1:
		return cur, 0
	}
	return 0, 0
}

// weighted is ⌈count × (W − e) / W⌉ without overflow. Rounding up makes
// "weighted + cur + n ≤ limit" the exact comparison of the real estimate,
// since cur, n and limit are integers.
func (p *windowParams) weighted(count uint64, elapsed int64) uint64 {
	hi, lo := bits.Mul64(count, uint64(p.window-elapsed))
	lo, carry := bits.Add64(lo, uint64(p.window-1), 0)
	q, _ := bits.Div64(hi+carry, lo, uint64(p.window))
	return q
}

// drain is the first time into a window at which count × (W − e) / W ≤
// allowed, for a window whose previous window holds count:
// W − ⌊allowed·W / count⌋, at least 0.
func (p *windowParams) drain(count, allowed uint64) int64 {
	if count <= allowed {
		return 0
	}
	hi, lo := bits.Mul64(allowed, uint64(p.window))
	q, _ := bits.Div64(hi, lo, count)
	return max(p.window-int64(q), 0)
}

// decideLive decides n at a reading of the limiter's clock; on the coarse
// clock a refusal a lagging reading could explain is decided again at an
// exact reading. It reports a refusal.
func (w *SlidingWindow) decideLive(n int) levee.Decision {
	p := w.p.Load()
	if p == nil {
		return notNew
	}
	now := w.clk.Nanotime()
	d := w.decide(p, now, n)
	if !d.Allowed && d.RetryAfter < time.Duration(maxStale) && isCoarse(w.clk) {
		if fresh := exactNanotime(w.clk); fresh > now {
			d = w.decide(p, fresh, n)
		}
	}
	if !d.Allowed {
		w.rejected(d.RetryAfter)
	}
	return d
}

// decideNAt decides n at now and reports a refusal.
func (w *SlidingWindow) decideNAt(now int64, n int) levee.Decision {
	p := w.p.Load()
	if p == nil {
		return notNew
	}
	d := w.decide(p, now, n)
	if !d.Allowed {
		w.rejected(d.RetryAfter)
	}
	return d
}

// decide decides n at now under p, the limiter's current params.
func (w *SlidingWindow) decide(p *windowParams, now int64, n int) levee.Decision {
	if p.limit == 0 {
		return levee.Decision{Allowed: true}
	}
	epoch, elapsed := p.at(now)
	limit := uint64(p.limit)
	for {
		s := w.state.Load()
		prev, cur := roll(s, epoch)
		est := p.weighted(prev, elapsed) + cur
		d := levee.Decision{Limit: int(p.limit), Rate: int(p.limit), Window: time.Duration(p.window)}
		switch {
		case n <= 0:
			d.Allowed = true
		case uint64(n) > limit:
			d.RetryAfter = levee.Never
		case est+uint64(n) <= limit:
			next := pack(epoch, prev, cur+uint64(n))
			if !w.state.CompareAndSwap(s, next) {
				continue
			}
			d.Allowed = true
			cur += uint64(n)
			est += uint64(n)
		default:
			d.RetryAfter = time.Duration(p.retryAfter(prev, cur, uint64(n), elapsed))
		}
		d.Remaining = int(limit - min(est, limit))
		d.Reset = time.Duration(p.reset(prev, cur, elapsed))
		return d
	}
}

// retryAfter is the wait until estimate + n ≤ limit with no other calls.
func (p *windowParams) retryAfter(prev, cur, n uint64, elapsed int64) int64 {
	limit := uint64(p.limit)
	if cur+n <= limit {
		// Within this window, as prev's weight falls.
		return max(p.drain(prev, limit-cur-n)-elapsed, 0)
	}
	// In the next window, where cur becomes the previous window.
	return p.window - elapsed + p.drain(cur, limit-n)
}

// reset is the time until the estimate is zero with no other calls.
func (p *windowParams) reset(prev, cur uint64, elapsed int64) int64 {
	if cur > 0 {
		return p.window - elapsed + p.drain(cur, 0)
	}
	return max(p.drain(prev, 0)-elapsed, 0)
}

func (w *SlidingWindow) rejected(wait time.Duration) {
	if w.listeners.Active() {
		w.listeners.Emit(levee.Event{
			Kind: levee.EventRejected, Policy: "ratelimit", Name: w.name,
			Time: w.clk.Now(), Err: levee.ErrLimited, Wait: wait,
		})
	}
}

// Allow reports whether one call may happen now, and counts it if so.
func (w *SlidingWindow) Allow() bool { return w.decideLive(1).Allowed }

// AllowN reports whether n calls may happen now, and counts them if so.
func (w *SlidingWindow) AllowN(n int) bool { return w.decideLive(n).Allowed }

// AllowAt is Allow at now, a [clock.Clock.Nanotime] reading of the
// limiter's clock.
func (w *SlidingWindow) AllowAt(now int64) bool { return w.decideNAt(now, 1).Allowed }

// AllowNAt is AllowN at now, a Nanotime reading of the limiter's clock.
func (w *SlidingWindow) AllowNAt(now int64, n int) bool { return w.decideNAt(now, n).Allowed }

// Decide is Allow with the whole answer. It returns a value and does not
// allocate.
func (w *SlidingWindow) Decide() levee.Decision { return w.decideLive(1) }

// DecideN is Decide for n calls. n <= 0 counts nothing and describes the
// limiter; n above the limit is rejected with RetryAfter [levee.Never].
func (w *SlidingWindow) DecideN(n int) levee.Decision { return w.decideLive(n) }

// DecideAt is Decide at now, a Nanotime reading of the limiter's clock.
func (w *SlidingWindow) DecideAt(now int64) levee.Decision { return w.decideNAt(now, 1) }

// DecideNAt is DecideN at now, a Nanotime reading of the limiter's clock.
func (w *SlidingWindow) DecideNAt(now int64, n int) levee.Decision { return w.decideNAt(now, n) }

// Stage places the limiter at [levee.StageLimit] in a pipeline.
func (w *SlidingWindow) Stage() levee.Stage { return levee.StageLimit }

// Acquire admits a call if the window has room. Like [GCRA.Acquire], the
// rejection is one shared error whose RetryAfter is computed when read, so
// neither path allocates. A limiter [NewSlidingWindow] did not make returns
// [ErrNotNew].
func (w *SlidingWindow) Acquire(ctx context.Context) (levee.Permit, error) {
	if w.decideLive(1).Allowed {
		return levee.Permit{}, nil
	}
	if w.err.l == nil {
		return levee.Permit{}, ErrNotNew
	}
	return levee.Permit{}, &w.err
}

func (w *SlidingWindow) retryAfterNow() time.Duration {
	p := w.p.Load()
	if p.limit == 0 {
		return 0
	}
	epoch, elapsed := p.at(w.clk.Nanotime())
	prev, cur := roll(w.state.Load(), epoch)
	if p.weighted(prev, elapsed)+cur+1 <= uint64(p.limit) {
		return 0
	}
	return time.Duration(p.retryAfter(prev, cur, 1, elapsed))
}

// Rate returns the current limit and window; the zero Rate for a limiter
// [NewSlidingWindow] did not make.
func (w *SlidingWindow) Rate() Rate {
	if p := w.p.Load(); p != nil {
		return p.rate
	}
	return Rate{}
}

// SetRate changes the limit and the window at run time. The counts are kept:
// the calls already counted still count against the new limit, so lowering
// it does not admit a burst. A new window length restarts the window
// boundaries, keeping both counters. Calls decided concurrently with the
// change may see either setting. A limiter [NewSlidingWindow] did not make
// returns [ErrNotNew].
func (w *SlidingWindow) SetRate(r Rate) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	old := w.p.Load()
	if old == nil {
		return ErrNotNew
	}
	np, err := newWindowParams(r)
	if err != nil {
		return err
	}
	if np.window != old.window {
		now := w.clk.Nanotime()
		oe, _ := old.at(now)
		ne, _ := np.at(now)
		for {
			s := w.state.Load()
			prev, cur := roll(s, oe)
			if w.state.CompareAndSwap(s, pack(ne, prev, cur)) {
				break
			}
		}
	}
	w.p.Store(np)
	if w.listeners.Active() {
		w.listeners.Emit(levee.Event{
			Kind: levee.EventLimitChange, Policy: "ratelimit", Name: w.name, Time: w.clk.Now(),
			Value: float64(np.limit), Threshold: float64(old.limit),
		})
	}
	return nil
}

// OnEvent registers fn for the limiter's events (rejections, limit changes)
// and returns a function that removes it.
func (w *SlidingWindow) OnEvent(fn levee.Listener) (remove func()) { return w.listeners.Add(fn) }

var _ levee.Gate = (*SlidingWindow)(nil)
