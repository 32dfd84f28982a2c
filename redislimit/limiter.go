package redislimit

import (
	"context"
	"errors"
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

// source says who made a decision: tests read it, users see
// [Limiter.UsingFallback] and [Limiter.Fallbacks].
type source uint8

const (
	// sourceRedis: a round trip to Redis decided.
	sourceRedis source = iota
	// sourceLease: tokens leased earlier from Redis (or a refusal
	// remembered from it) decided without a round trip.
	sourceLease
	// sourceFallback: Redis could not answer; the configured [Fallback]
	// decided.
	sourceFallback
	// sourceNone: nothing decided (an error, or a request no wait can cure).
	sourceNone
)

// String returns the source's name.
func (s source) String() string {
	switch s {
	case sourceRedis:
		return "redis"
	case sourceLease:
		return "lease"
	case sourceFallback:
		return "fallback"
	case sourceNone:
		return "none"
	}
	return "source(" + strconv.Itoa(int(s)) + ")"
}

// Limiter is a distributed GCRA rate limiter whose state lives in Redis: a
// key earns Limit tokens per Period, up to Burst at once, and every instance
// sharing a Redis (and a Prefix) draws from the same tokens. Each decision
// is one atomic script run in one round trip (shared with other decisions
// under load), timed by the Redis server's clock so that instances with
// skewed clocks agree.
//
// [Limiter.DecideKey] and [Limiter.DecideKeyN] decide for any key and
// return a [levee.Decision] with the numbers for rate-limit headers, as the
// local limiters of package ratelimit do: Limit is the quota (Burst), Rate
// and Window the configured Limit per Period. [Limiter.AcquireKey] makes
// the limiter a [levee.KeyedGate] (and with DecideKey a
// [levee.KeyedLimiter]), and [Limiter.Acquire] a [levee.Gate] on its
// configured Key. With [Config.Lease] set, a hot key is served from tokens
// leased in batches. When Redis fails or is slow, the configured [Fallback]
// decides; after FailureThreshold consecutive failures Redis is left alone
// for Cooldown, then probed by one call. [Limiter.UsingFallback] and
// [Limiter.Fallbacks] say whether the fallback is deciding and how often it
// has.
//
// A Limiter is safe for concurrent use. Make one with [New]: the zero value
// (or nil) has no client and no limit, and its methods refuse with
// [ErrNotNew].
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

	fallbacks atomic.Int64 // decisions made by the fallback

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
// is the time to the next probe); and [levee.EventRejected] when Acquire or
// AcquireKey refuses a call. Policy is "redislimit".
func (l *Limiter) OnEvent(fn levee.Listener) (remove func()) {
	if l == nil {
		return func() {}
	}
	return l.listeners.Add(fn)
}

// UsingFallback reports whether the limiter has switched to its fallback
// and is leaving Redis alone.
func (l *Limiter) UsingFallback() bool { return l != nil && l.state.Load() != stateRedis }

// PolicyState returns the limiter's current state with the Policy and Name
// labels of its events: policy "redislimit", the configured Name, and state
// "redis" while Redis decides or the fallback's name ("local_share",
// "fail_open", "fail_closed") while the fallback does (probes included) —
// the names its [levee.EventStateChange] events carry in From and To. It is
// the method observe.StateReporter asks for, so observe.Metrics.Register
// exports the state from registration on, without this package importing
// observe. A limiter [New] did not make reports state "none".
func (l *Limiter) PolicyState() (policy, name, state string) {
	if l == nil || l.cfg.Client == nil {
		return policyName, "", sourceNone.String()
	}
	if l.state.Load() == stateRedis {
		return policyName, l.cfg.Name, "redis"
	}
	return policyName, l.cfg.Name, l.cfg.Fallback.String()
}

// Fallbacks returns the number of decisions the fallback has made since New,
// for a metric: a decision Redis failed to answer in time counts even while
// the limiter still calls Redis (UsingFallback false).
func (l *Limiter) Fallbacks() int64 {
	if l == nil {
		return 0
	}
	return l.fallbacks.Load()
}

// Acquire takes one token for the configured Key. See [Limiter.AcquireKey].
func (l *Limiter) Acquire(ctx context.Context) (levee.Permit, error) {
	if l == nil {
		return levee.Permit{}, ErrNotNew
	}
	return l.AcquireKey(ctx, l.cfg.Key)
}

// AcquireKey takes one token for key. A refusal is [levee.ErrLimited] with
// the retry-after; the permit needs no report. An error from ctx is
// returned as is.
func (l *Limiter) AcquireKey(ctx context.Context, key string) (levee.Permit, error) {
	d, _, err := l.decide(ctx, key, 1)
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

// DecideKey takes one token for key. See [Limiter.DecideKeyN].
func (l *Limiter) DecideKey(ctx context.Context, key string) (levee.Decision, error) {
	d, _, err := l.decide(ctx, key, 1)
	return d, err
}

// DecideKeyN takes n tokens for key, all or none, and returns the figures
// for rate-limit headers. n above Burst is refused with RetryAfter
// [levee.Never] (and Remaining 0: Redis is not asked). With leasing,
// Remaining is this instance's leased tokens plus what Redis last reported
// for the key, and a refusal may be one remembered from Redis until its
// retry-after. The error is not nil
// only when n is below 1, ctx ended or l was not made by [New]
// ([ErrNotNew]); Redis failures are answered by the fallback.
func (l *Limiter) DecideKeyN(ctx context.Context, key string, n int) (levee.Decision, error) {
	d, _, err := l.decide(ctx, key, n)
	return d, err
}

// decide is DecideKeyN, saying who decided.
func (l *Limiter) decide(ctx context.Context, key string, n int) (levee.Decision, source, error) {
	if l == nil || l.cfg.Client == nil {
		return levee.Decision{}, sourceNone, ErrNotNew
	}
	if n < 1 {
		return levee.Decision{}, sourceNone, fmt.Errorf("redislimit: DecideKeyN n is %d, want at least 1", n)
	}
	if n > l.cfg.Burst {
		return l.decision(false, 0, levee.Never, 0), sourceNone, nil
	}
	if err := ctx.Err(); err != nil {
		return levee.Decision{}, sourceNone, err
	}
	if l.leases != nil {
		if e := l.leases.get(key, l.clk.Nanotime()); e != nil {
			return l.allowLeased(ctx, e, key, n)
		}
	}
	return l.allowDirect(ctx, key, n)
}

// decision fills in a [levee.Decision]: the quota is Burst, the rate Limit
// per Period, and an admission has no retry-after.
func (l *Limiter) decision(allowed bool, remaining int, retry, reset time.Duration) levee.Decision {
	if allowed {
		retry = 0
	}
	return levee.Decision{Allowed: allowed, Limit: l.cfg.Burst, Remaining: remaining, RetryAfter: retry,
		Reset: max(reset, 0), Rate: l.cfg.Limit, Window: l.cfg.Period}
}

func (l *Limiter) allowDirect(ctx context.Context, key string, n int) (levee.Decision, source, error) {
	ok, probe := l.tryRedis()
	if !ok {
		return l.fallback(key, n), sourceFallback, nil
	}
	r, err := l.roundTrip(ctx, key, int64(n), int64(n), time.Time{})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			l.abandon(probe)
			return levee.Decision{}, sourceNone, cerr
		}
		l.failed(err, probe)
		return l.fallback(key, n), sourceFallback, nil
	}
	l.succeeded(probe)
	return l.decision(r.granted > 0, int(r.remaining), r.retryAfter, r.resetAfter), sourceRedis, nil
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

// fallback decides without Redis, and counts the decision.
func (l *Limiter) fallback(key string, n int) levee.Decision {
	l.fallbacks.Add(1)
	switch l.cfg.Fallback {
	case FailOpen:
		return l.decision(true, l.cfg.Burst-n, 0, 0)
	case FailClosed:
		wait := time.Duration(l.retryAt.Load() - l.clk.Nanotime())
		if l.state.Load() == stateRedis || wait <= 0 {
			wait = l.cfg.Cooldown
		}
		return l.decision(false, 0, wait, 0)
	default:
		r := l.local.Take(key, l.nowMicros(), int64(n), int64(n))
		return l.decision(r.Granted > 0, int(r.Remaining), time.Duration(r.RetryAfter)*time.Microsecond,
			time.Duration(r.ResetAfter)*time.Microsecond)
	}
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

var (
	_ levee.Gate         = (*Limiter)(nil)
	_ levee.KeyedLimiter = (*Limiter)(nil)
)

// ErrNotNew is returned by the methods of a Limiter that [New] did not
// make (its zero value, or nil): it has no Redis client and no limit.
var ErrNotNew = errors.New("redislimit: Limiter not made by New")
