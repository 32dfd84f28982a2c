package redislimit

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/redislimit/internal/gcra"
	"github.com/redis/go-redis/v9"
)

// Source says who made a [Decision].
type Source uint8

const (
	// SourceRedis: a round trip to Redis decided.
	SourceRedis Source = iota
	// SourceLease: tokens leased earlier from Redis (or a refusal remembered
	// from it) decided without a round trip.
	SourceLease
	// SourceFallback: Redis could not answer; the configured [Fallback]
	// decided.
	SourceFallback
)

// String returns the source's name.
func (s Source) String() string {
	switch s {
	case SourceRedis:
		return "redis"
	case SourceLease:
		return "lease"
	case SourceFallback:
		return "fallback"
	}
	return "source(" + strconv.Itoa(int(s)) + ")"
}

// Decision is the answer for one key: whether the call may go ahead and the
// numbers a response's rate-limit header fields need.
type Decision struct {
	// Allowed reports whether the tokens were taken.
	Allowed bool
	// Limit is the configured number of calls per Period.
	Limit int
	// Remaining is how many more tokens could be taken now. With leasing it
	// is this instance's leased tokens plus what Redis last reported.
	Remaining int
	// RetryAfter is how long until a refused request could succeed, or, after
	// a grant, until the next token is free (zero when one is free now).
	RetryAfter time.Duration
	// ResetAfter is how long until the key is idle again (full burst).
	ResetAfter time.Duration
	// Source says who decided.
	Source Source
}

// Limiter is a distributed GCRA rate limiter whose state lives in Redis: a
// key earns Limit tokens per Period, up to Burst at once, and every instance
// sharing a Redis (and a Prefix) draws from the same tokens. Each decision
// is one atomic script run in one round trip (shared with other decisions
// under load), timed by the Redis server's clock so that instances with
// skewed clocks agree.
//
// [Limiter.AllowKey] and [Limiter.AllowN] decide for any key and return the
// numbers for rate-limit headers; [Limiter.Acquire] makes the limiter a
// [levee.Gate] on its configured Key. With [Config.Lease] set, a hot key is
// served from tokens leased in batches. When Redis fails or is slow, the
// configured [Fallback] decides; after FailureThreshold consecutive failures
// Redis is left alone for Cooldown, then probed by one call.
//
// A Limiter is safe for concurrent use.
type Limiter struct {
	cfg      Config
	clk      clock.Clock
	script   *redis.Script
	interval float64 // µs per token
	intArg   any     // strings boxed once, not per call
	burstArg any
	local    *gcra.Local // LocalShare fallback
	leases   *leaseTable // nil without leasing
	disp     dispatcher

	// nowArg, when set (tests only), replaces the server's TIME.
	nowArg func() float64

	// A small breaker around Redis.
	state    atomic.Uint32
	failures atomic.Int64
	retryAt  atomic.Int64 // Nanotime after which an open breaker probes

	listeners levee.Listeners
}

const (
	stateRedis uint32 = iota
	stateFallback
	stateProbing
)

// New returns a limiter configured by cfg, or an error naming the first
// invalid field. It does not contact Redis: the script is loaded by the
// first decision (EVALSHA, then EVAL once if Redis does not know it).
func New(cfg Config) (*Limiter, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	interval := float64(cfg.Period) / float64(time.Microsecond) / float64(cfg.Limit)
	share := gcra.Params{
		Interval: interval * float64(cfg.Instances),
		Burst:    float64(max(1, cfg.Burst/cfg.Instances)),
	}
	l := &Limiter{
		cfg:      cfg,
		clk:      cfg.Clock,
		script:   redis.NewScript(gcraScript),
		interval: interval,
		intArg:   strconv.FormatFloat(interval, 'g', -1, 64),
		burstArg: strconv.Itoa(cfg.Burst),
		local:    gcra.NewLocal(share, cfg.MaxKeys, interval),
	}
	l.disp.max = cfg.MaxInFlight
	l.disp.timeout = cfg.Timeout
	l.disp.one = l.send
	l.disp.many = l.sendBatch
	if cfg.Lease > 0 {
		l.leases = newLeaseTable(cfg.MaxKeys, cfg.LeaseTTL)
	}
	return l, nil
}

// Stage places the limiter with the other rate limits.
func (l *Limiter) Stage() levee.Stage { return levee.StageLimit }

// OnEvent registers fn for the limiter's events: [levee.EventStateChange]
// when it switches to its fallback (From "redis", To the fallback's name,
// Err the last failure) and when it returns to Redis (To "redis");
// [levee.EventInfo] when a probe of Redis fails and the fallback stays (Wait
// is the time to the next probe); and [levee.EventRejected] when Acquire
// refuses a call. Policy is "redislimit".
func (l *Limiter) OnEvent(fn levee.Listener) (remove func()) { return l.listeners.Add(fn) }

// UsingFallback reports whether the limiter has switched to its fallback
// and is leaving Redis alone.
func (l *Limiter) UsingFallback() bool { return l.state.Load() != stateRedis }

// Acquire takes one token for the configured Key. A refusal is
// [levee.ErrLimited] with the retry-after; the permit needs no report. An
// error from ctx is returned as is.
func (l *Limiter) Acquire(ctx context.Context) (levee.Permit, error) {
	d, err := l.AllowN(ctx, l.cfg.Key, 1)
	if err != nil {
		return levee.Permit{}, err
	}
	if !d.Allowed {
		err := levee.Reject(levee.ErrLimited, d.RetryAfter)
		if l.listeners.Active() {
			l.listeners.Emit(levee.Event{Kind: levee.EventRejected, Policy: policyName, Name: l.cfg.Name,
				Time: l.clk.Now(), Wait: d.RetryAfter, Err: err})
		}
		return levee.Permit{}, err
	}
	return levee.Permit{}, nil
}

// AllowKey takes one token for key. See [Limiter.AllowN].
func (l *Limiter) AllowKey(ctx context.Context, key string) (Decision, error) {
	return l.AllowN(ctx, key, 1)
}

// AllowN takes n tokens for key, all or none. The error is not nil only when
// n is out of range (below 1 or above Burst) or ctx ended; Redis failures
// are answered by the fallback, and Decision.Source says so.
func (l *Limiter) AllowN(ctx context.Context, key string, n int) (Decision, error) {
	if n < 1 || n > l.cfg.Burst {
		return Decision{}, fmt.Errorf("redislimit: AllowN n is %d, want 1..%d (Burst)", n, l.cfg.Burst)
	}
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	if l.leases != nil {
		if e := l.leases.get(key, l.clk.Nanotime()); e != nil {
			return l.allowLeased(ctx, e, key, n)
		}
	}
	return l.allowDirect(ctx, key, n)
}

func (l *Limiter) allowDirect(ctx context.Context, key string, n int) (Decision, error) {
	ok, probe := l.tryRedis()
	if !ok {
		return l.fallback(key, n), nil
	}
	r, err := l.roundTrip(ctx, key, int64(n), int64(n), time.Time{})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			l.abandon(probe)
			return Decision{}, cerr
		}
		l.failed(err, probe)
		return l.fallback(key, n), nil
	}
	l.succeeded(probe)
	return Decision{
		Allowed:    r.granted > 0,
		Limit:      l.cfg.Limit,
		Remaining:  int(r.remaining),
		RetryAfter: r.retryAfter,
		ResetAfter: r.resetAfter,
		Source:     SourceRedis,
	}, nil
}

// roundTrip decides for key in Redis: want tokens, none unless min are
// free. It goes through the dispatcher (batch.go), which sends it alone or
// with others queued at the same time, and answers it within Timeout, or by
// by when that is earlier (zero: no earlier time).
func (l *Limiter) roundTrip(ctx context.Context, key string, want, min int64, by time.Time) (reply, error) {
	return l.disp.do(ctx, l.redisKey(key), want, min, l.nowArgument(), by)
}

// redisKey is key's Redis key: hash-tagged, so a decision touches one slot.
func (l *Limiter) redisKey(key string) string { return l.cfg.Prefix + "{" + key + "}" }

// fallback decides without Redis.
func (l *Limiter) fallback(key string, n int) Decision {
	d := Decision{Limit: l.cfg.Limit, Source: SourceFallback}
	switch l.cfg.Fallback {
	case FailOpen:
		d.Allowed = true
		d.Remaining = l.cfg.Burst
	case FailClosed:
		wait := time.Duration(l.retryAt.Load() - l.clk.Nanotime())
		if l.state.Load() == stateRedis || wait <= 0 {
			wait = l.cfg.Cooldown
		}
		d.RetryAfter = wait
	default:
		r := l.local.Take(key, l.nowMicros(), int64(n), int64(n))
		d.Allowed = r.Granted > 0
		d.Remaining = int(r.Remaining)
		d.RetryAfter = time.Duration(r.RetryAfter) * time.Microsecond
		d.ResetAfter = time.Duration(r.ResetAfter) * time.Microsecond
	}
	return d
}

func (l *Limiter) nowMicros() float64 { return float64(l.clk.Nanotime()) / 1e3 }

// tryRedis reports whether to call Redis, and whether the call is the probe
// of an open breaker.
func (l *Limiter) tryRedis() (ok, probe bool) {
	switch l.state.Load() {
	case stateRedis:
		return true, false
	case stateFallback:
		if l.clk.Nanotime() >= l.retryAt.Load() && l.state.CompareAndSwap(stateFallback, stateProbing) {
			return true, true
		}
	}
	return false, false
}

func (l *Limiter) succeeded(probe bool) {
	if l.failures.Load() != 0 {
		l.failures.Store(0)
	}
	if probe {
		l.state.Store(stateRedis)
		l.changed(l.cfg.Fallback.String(), "redis", "redis answered", nil)
	}
}

func (l *Limiter) failed(err error, probe bool) {
	if probe {
		l.retryAt.Store(l.clk.Nanotime() + int64(l.cfg.Cooldown))
		l.state.Store(stateFallback)
		if l.cfg.Logger != nil {
			l.cfg.Logger.Info("redislimit: redis probe failed, staying on fallback", "name", l.cfg.Name,
				"fallback", l.cfg.Fallback.String(), "retry_in", l.cfg.Cooldown, slog.Any("err", err))
		}
		if l.listeners.Active() {
			l.listeners.Emit(levee.Event{Kind: levee.EventInfo, Policy: policyName, Name: l.cfg.Name,
				Time: l.clk.Now(), Reason: "redis probe failed", Err: err, Wait: l.cfg.Cooldown})
		}
		return
	}
	if l.failures.Add(1) >= int64(l.cfg.FailureThreshold) && l.state.Load() == stateRedis {
		l.retryAt.Store(l.clk.Nanotime() + int64(l.cfg.Cooldown))
		if l.state.CompareAndSwap(stateRedis, stateFallback) {
			l.changed("redis", l.cfg.Fallback.String(), "redis unavailable", err)
		}
	}
}

// abandon hands the probe back when the caller's context ended during it.
func (l *Limiter) abandon(probe bool) {
	if probe {
		l.state.Store(stateFallback)
	}
}

func (l *Limiter) changed(from, to, reason string, err error) {
	if lg := l.cfg.Logger; lg != nil {
		if to == "redis" {
			lg.Info("redislimit: redis is back, leaving fallback", "name", l.cfg.Name, "fallback", from)
		} else {
			lg.Warn("redislimit: redis unavailable, using fallback", "name", l.cfg.Name, "fallback", to,
				"failures", l.failures.Load(), "retry_in", l.cfg.Cooldown, slog.Any("err", err))
		}
	}
	if l.listeners.Active() {
		l.listeners.Emit(levee.Event{Kind: levee.EventStateChange, Policy: policyName, Name: l.cfg.Name,
			Time: l.clk.Now(), From: from, To: to, Reason: reason, Err: err,
			Value: float64(l.failures.Load()), Threshold: float64(l.cfg.FailureThreshold)})
	}
}

const policyName = "redislimit"

var _ levee.Gate = (*Limiter)(nil)
