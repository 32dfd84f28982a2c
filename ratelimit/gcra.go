package ratelimit

import (
	"context"
	"math"
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
)

// GCRA is an exact rate limiter keeping one timestamp of state: the
// theoretical arrival time (TAT), the instant at which its bucket will be
// full again. A request for n tokens at now is admitted when
//
//	max(TAT, now) + n·T − τ ≤ now      (T = Rate.Interval(), τ = Burst·T)
//
// and then sets TAT = max(TAT, now) + n·T. A rejection's RetryAfter is the
// left side minus now; Remaining is ⌊(now + τ − TAT) / T⌋ and Reset is
// TAT − now. This is the same arithmetic as a token bucket holding
// (now + τ − TAT)/T tokens, but in integer nanoseconds with no float, and
// the single word is updated with one compare-and-swap, so deciding is
// lock-free and allocation-free.
//
// Use [GCRA.Decide] where the answer feeds HTTP headers, [GCRA.Allow] where a
// bool will do, and put it in a [levee.Pipeline] as a gate. Its state never
// runs ahead of now by more than τ, which is why the keyed and distributed
// limiters store exactly this; [TokenBucket] adds reservations that may.
//
// A GCRA is safe for concurrent use. Make one with [NewGCRA]: the zero
// value has no clock and no rate, so it refuses every call (Allow false,
// Decide a refusal with RetryAfter [levee.Never]) and its methods that
// return an error return [ErrNotNew].
type GCRA struct{ core }

// NewGCRA returns a GCRA limiter configured by cfg, or an error naming the
// invalid field.
func NewGCRA(cfg Config) (*GCRA, error) {
	g := &GCRA{}
	if err := g.init(cfg); err != nil {
		return nil, err
	}
	return g, nil
}

// initialTAT is the TAT of a limiter that has never been used: a bucket that
// filled long ago. It is far enough from both ends of int64 that adding or
// subtracting any span the limiters compute cannot overflow.
const initialTAT = math.MinInt64 / 4

// core is the arithmetic shared by [GCRA] and [TokenBucket].
type core struct {
	settings
	warmStart atomic.Int64 // Nanotime the current warm-up began
	err       limitedError

	// tat is written by every admission; it sits on a cache line of its
	// own so those writes do not evict the read-mostly fields above from
	// the other cores' caches (false sharing doubled the parallel cost).
	_   [64]byte
	tat atomic.Int64
	_   [56]byte
}

func (c *core) init(cfg Config) error {
	p, err := newParams(cfg.Rate, cfg.Burst, cfg.WarmUp, cfg.ColdFactor, cfg.CoarseClock)
	if err != nil {
		return err
	}
	clk, err := pickClock(cfg.Clock, cfg.CoarseClock)
	if err != nil {
		return err
	}
	c.p.Store(p)
	c.tat.Store(initialTAT)
	c.warmStart.Store(initialTAT)
	c.clk = clk
	c.name = cfg.Name
	c.err.l = c
	c.install = c.swap
	return nil
}

// taken is the result of one attempt to take tokens.
type taken struct {
	ok       bool
	base     int64 // max(TAT, now) before the take
	tat      int64 // TAT after the take (when ok)
	interval int64 // the interval charged per token
	wait     int64 // when ok: time until the tokens may be used; else retry-after
}

// take takes n tokens at now if they are available within maxWait. The
// caller has checked that 0 < n <= burst and that the rate is limited.
func (c *core) take(p *params, now, n, maxWait int64) taken {
	for {
		old := c.tat.Load()
		iv, tau := p.interval, p.tau
		if p.warm > 0 {
			// A cold bucket may hold less than one token's worth of τ;
			// it still admits one call per (cold) interval.
			iv = c.warmInterval(p, now, old, true)
			tau = max(tau, iv)
		}
		base := max(old, now)
		next := base + n*iv
		wait := next - tau - now
		if wait > maxWait {
			return taken{base: base, interval: iv, wait: wait}
		}
		if c.tat.CompareAndSwap(old, next) {
			return taken{ok: true, base: base, tat: next, interval: iv, wait: max(wait, 0)}
		}
	}
}

// warmInterval returns the interval at now during a warm-up: it restarts the
// ramp when the bucket has been full for a whole warm-up period (only when
// restart is set: reading the state must not move it), then falls linearly
// from the cold interval to the rate's interval.
func (c *core) warmInterval(p *params, now, tat int64, restart bool) int64 {
	ws := c.warmStart.Load()
	if tat <= now-p.warm {
		if !restart {
			return p.cold
		}
		// A concurrent call may have restarted it already (ws >= now).
		if ws < now {
			if c.warmStart.CompareAndSwap(ws, now) {
				ws = now
			} else {
				ws = c.warmStart.Load()
			}
		}
	}
	e := now - ws
	if e >= p.warm {
		return p.interval
	}
	if e <= 0 {
		return p.cold
	}
	hi, lo := bits.Mul64(uint64(p.cold-p.interval), uint64(e))
	q, _ := bits.Div64(hi, lo, uint64(p.warm))
	return p.cold - int64(q)
}

// decideNAt decides n tokens at now under p, the limiter's current params.
func (c *core) decideNAt(p *params, now int64, n int, live bool) levee.Decision {
	if p.interval == 0 {
		return levee.Decision{Allowed: true}
	}
	if n <= 0 {
		return c.peek(p, now)
	}
	if int64(n) > p.burst {
		c.rejected(levee.Never)
		d := p.decision()
		d.RetryAfter = levee.Never
		d.Remaining = c.remaining(p, now)
		d.Reset = time.Duration(max(c.tat.Load()-now, 0))
		return d
	}
	t := c.take(p, now, int64(n), 0)
	if !t.ok && live && t.wait < maxStale {
		if fresh := exactNanotime(c.clk); fresh > now {
			now, t = fresh, c.take(p, fresh, int64(n), 0)
		}
	}
	d := p.decision()
	d.Allowed = t.ok
	if t.ok {
		d.Remaining = int((now + p.tau - t.tat) / t.interval)
		d.Reset = time.Duration(t.tat - now)
		return d
	}
	// Reservations may have pushed the TAT beyond now + τ.
	d.Remaining = int(max(now+p.tau-t.base, 0) / t.interval)
	d.Reset = time.Duration(t.base - now)
	d.RetryAfter = time.Duration(t.wait)
	c.rejected(d.RetryAfter)
	return d
}

// peek describes the limiter at now without taking anything.
func (c *core) peek(p *params, now int64) levee.Decision {
	if p.interval == 0 {
		return levee.Decision{Allowed: true}
	}
	base := max(c.tat.Load(), now)
	d := p.decision()
	d.Allowed = true
	d.Remaining = c.remaining(p, now)
	d.Reset = time.Duration(base - now)
	return d
}

func (c *core) remaining(p *params, now int64) int {
	base := max(c.tat.Load(), now)
	iv := p.interval
	if p.warm > 0 {
		iv = c.warmInterval(p, now, c.tat.Load(), false)
	}
	return int(max(now+p.tau-base, 0) / iv)
}

// maxStale bounds how stale a reading taken just before deciding can
// plausibly be (a preemption, a GC pause). A refusal whose wait is longer
// cannot be explained by a stale reading and is not checked again.
const maxStale = int64(100 * time.Millisecond)

// allowNAt decides at now. With live set, now is a clock reading this call
// just took: a refusal with a wait under maxStale is checked once more
// against a fresh reading, since a caller preempted between reading the
// clock and deciding holds a reading older than what other callers have
// stored, and would be refused for that alone. That check costs such
// refusals one more clock read.
func (c *core) allowNAt(p *params, now int64, n int, live bool) bool {
	if p.interval == 0 || n <= 0 {
		return true
	}
	if int64(n) > p.burst {
		c.rejected(levee.Never)
		return false
	}
	t := c.take(p, now, int64(n), 0)
	if !t.ok && live && t.wait < maxStale {
		if fresh := exactNanotime(c.clk); fresh > now {
			t = c.take(p, fresh, int64(n), 0)
		}
	}
	if !t.ok {
		c.rejected(time.Duration(t.wait))
	}
	return t.ok
}

// rejected emits a rejection event when anyone listens.
func (c *core) rejected(wait time.Duration) {
	if c.listeners.Active() {
		c.listeners.Emit(levee.Event{
			Kind: levee.EventRejected, Policy: "ratelimit", Name: c.name,
			Time: c.clk.Now(), Err: levee.ErrLimited, Wait: wait,
		})
	}
}

// Allow reports whether one call may happen now, and takes its token if so.
// It is the cheapest path: one clock read, one compare-and-swap, no
// allocation.
func (c *core) Allow() bool {
	if p := c.p.Load(); p != nil {
		return c.allowNAt(p, c.clk.Nanotime(), 1, true)
	}
	return false
}

// AllowN reports whether n tokens may be taken now, and takes them if so.
// n larger than the burst is never allowed; n <= 0 always is.
func (c *core) AllowN(n int) bool {
	if p := c.p.Load(); p != nil {
		return c.allowNAt(p, c.clk.Nanotime(), n, true)
	}
	return false
}

// AllowAt is Allow at now, a [clock.Clock.Nanotime] reading of the
// limiter's clock. Tests step through fixed instants with it.
func (c *core) AllowAt(now int64) bool {
	if p := c.p.Load(); p != nil {
		return c.allowNAt(p, now, 1, false)
	}
	return false
}

// AllowNAt is AllowN at now, a Nanotime reading of the limiter's clock.
func (c *core) AllowNAt(now int64, n int) bool {
	if p := c.p.Load(); p != nil {
		return c.allowNAt(p, now, n, false)
	}
	return false
}

// Decide is Allow with the whole answer: limit, remaining, reset and, on
// rejection, the retry-after. It returns a value and does not allocate.
func (c *core) Decide() levee.Decision {
	if p := c.p.Load(); p != nil {
		return c.decideNAt(p, c.clk.Nanotime(), 1, true)
	}
	return notNew
}

// DecideN is Decide for n tokens. n <= 0 takes nothing and describes the
// limiter (Allowed is true); n larger than the burst is rejected with
// RetryAfter [levee.Never].
func (c *core) DecideN(n int) levee.Decision {
	if p := c.p.Load(); p != nil {
		return c.decideNAt(p, c.clk.Nanotime(), n, true)
	}
	return notNew
}

// DecideAt is Decide at now, a Nanotime reading of the limiter's clock.
func (c *core) DecideAt(now int64) levee.Decision {
	if p := c.p.Load(); p != nil {
		return c.decideNAt(p, now, 1, false)
	}
	return notNew
}

// DecideNAt is DecideN at now, a Nanotime reading of the limiter's clock.
func (c *core) DecideNAt(now int64, n int) levee.Decision {
	if p := c.p.Load(); p != nil {
		return c.decideNAt(p, now, n, false)
	}
	return notNew
}

// Stage places the limiter at [levee.StageLimit] in a pipeline.
func (c *core) Stage() levee.Stage { return levee.StageLimit }

// Acquire admits a call if a token is available now. The rejection matches
// [levee.ErrLimited] and [levee.ErrRejected], and [levee.RetryAfter] reads
// from it the wait before a token is free. The rejection is one error value
// owned by the limiter, whose RetryAfter is computed from the limiter's state
// when it is read, so neither path allocates. The permit needs no settling.
// A limiter not made by its constructor returns [ErrNotNew].
func (c *core) Acquire(ctx context.Context) (levee.Permit, error) {
	if c.Allow() {
		return levee.Permit{}, nil
	}
	if c.err.l == nil {
		return levee.Permit{}, ErrNotNew
	}
	return levee.Permit{}, &c.err
}

// swap installs np, converting the TAT so the available tokens survive.
func (c *core) swap(old, np *params) {
	for {
		now := c.clk.Nanotime()
		tat := c.tat.Load()
		next := convertTAT(old, np, tat, now)
		if c.tat.CompareAndSwap(tat, next) {
			break
		}
	}
	c.p.Store(np)
}

// convertTAT re-expresses tat, kept under old, under np so that the tokens
// available at now stay the same (capped at np's burst).
func convertTAT(old, np *params, tat, now int64) int64 {
	if np.interval == 0 {
		return initialTAT
	}
	if old.interval == 0 || tat <= now {
		// Full bucket: stays full, and an idle TAT keeps its idleness.
		if tat < now {
			return tat
		}
		return now
	}
	// Available time under old, in old nanoseconds, then in new ones.
	avail := max(now+old.tau-tat, 0)
	hi, lo := bits.Mul64(uint64(avail), uint64(np.interval))
	q, _ := bits.Div64(hi, lo, uint64(old.interval))
	a := min(int64(q), np.tau)
	return now + np.tau - a
}

func perSecond(p *params) float64 {
	if p.interval == 0 {
		return math.Inf(1)
	}
	return float64(time.Second) / float64(p.interval)
}

// retryAfterNow is the wait before one token is free, read when a shared
// rejection error is asked.
func (c *core) retryAfterNow() time.Duration {
	p := c.p.Load()
	if p.interval == 0 {
		return 0
	}
	now := c.clk.Nanotime()
	tat := c.tat.Load()
	iv, tau := p.interval, p.tau
	if p.warm > 0 {
		iv = c.warmInterval(p, now, tat, false)
		tau = max(tau, iv)
	}
	return time.Duration(max(max(tat, now)+iv-tau-now, 0))
}

// limitedError is the rejection a limiter's Acquire returns: one value per
// limiter, so rejecting does not allocate, whose RetryAfter is computed
// live.
type limitedError struct {
	l interface{ retryAfterNow() time.Duration }
}

func (e *limitedError) Error() string { return levee.ErrLimited.Error() }

// Unwrap returns levee.ErrLimited, which matches levee.ErrRejected too.
func (e *limitedError) Unwrap() error { return levee.ErrLimited }

// RetryAfter returns the wait before the limiter would admit a call.
func (e *limitedError) RetryAfter() time.Duration { return e.l.retryAfterNow() }

var _ levee.Gate = (*GCRA)(nil)
