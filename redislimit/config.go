package redislimit

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/levee-go/levee/clock"
	"github.com/redis/go-redis/v9"
)

// Fallback says what a [Limiter] decides while Redis cannot be reached.
type Fallback uint8

const (
	// LocalShare (the default) decides with a limiter in this process sized
	// to this instance's share of the limit: Limit/Instances per Period and
	// Burst/Instances (at least 1). With Instances set to the number of
	// instances, the fleet as a whole stays near the limit.
	LocalShare Fallback = iota
	// FailOpen admits every call: availability over the limit.
	FailOpen
	// FailClosed refuses every call with [levee.ErrLimited] and a
	// retry-after of the time until Redis is tried again.
	FailClosed
)

// String returns the mode's name in snake case, as used in events and logs.
func (f Fallback) String() string {
	switch f {
	case LocalShare:
		return "local_share"
	case FailOpen:
		return "fail_open"
	case FailClosed:
		return "fail_closed"
	}
	return fmt.Sprintf("fallback(%d)", uint8(f))
}

// Config configures a [Limiter]. Client and Limit are required; every other
// field's zero value is a working default.
type Config struct {
	// Name labels the limiter's events and log lines.
	Name string

	// Client is the Redis connection: a *redis.Client, a Sentinel failover
	// client or a *redis.ClusterClient (any [redis.UniversalClient]).
	// Required. Unless Timeout is negative, the client must be created
	// with ContextTimeoutEnabled: true, or go-redis ignores the per-call
	// deadline and Timeout could not bound a call; New checks this.
	Client redis.UniversalClient

	// Limit is the number of calls allowed per Period for each key.
	// Required, > 0.
	Limit int
	// Period is the window Limit is counted over. Zero means one second;
	// negative is refused.
	Period time.Duration
	// Burst is how many calls an idle key may make at once. Zero means
	// Limit; negative is refused.
	Burst int

	// Prefix starts every Redis key, before the hash-tagged user key:
	// Prefix + "{" + key + "}", so that each key has a Cluster slot of its
	// own. Empty means "levee:rl:"; braces are refused. Two limiters with
	// different limits must not share a prefix.
	Prefix string
	// Key is the key [Limiter.Acquire] limits (one key for the whole gate).
	// Empty means "default".
	Key string

	// Timeout bounds each decision that goes to Redis, from when it is
	// asked: time queued behind other round trips or waiting for a key's
	// lease to be refilled counts, so a decision is answered within Timeout
	// however many callers wait with it. A decision Redis has not answered
	// by then counts as a failure and is answered by the fallback. Zero
	// means 50ms; negative means no bound of this limiter's own (the
	// client's timeouts apply). One case escapes it: a connection the
	// client dials during a call to a Redis that accepts it but hangs is
	// held by go-redis past the call's deadline (measured: about twice
	// Timeout), so keep the client's own timeouts short; a positive
	// MaxInFlight (the default) keeps the connections in use few and open.
	Timeout time.Duration
	// MaxInFlight is the most round trips the limiter has out to Redis at
	// once. A decision that finds fewer goes at once, alone; one that finds
	// MaxInFlight queues, and the next round trip to come back is followed by
	// one pipeline carrying every decision queued meanwhile (each still its
	// own atomic script run). Under low load nothing waits; under high load
	// many decisions share one round trip, which saves Redis and the caller
	// most of their per-request work. A queued decision waits for a round
	// trip to come back before its own is sent, within its Timeout, or
	// until its context ends. Zero means 4; negative means no limit: every
	// decision makes a round trip of its own.
	MaxInFlight int
	// Fallback is what is decided while Redis cannot answer. The zero value
	// is [LocalShare].
	Fallback Fallback
	// Instances is the number of processes sharing the limit, used to size
	// the [LocalShare] fallback. Zero means 1; negative is refused.
	Instances int
	// FailureThreshold is the number of consecutive decisions Redis failed
	// to answer (a failed pipeline counts each decision it carried) that
	// switches the limiter to its fallback without trying Redis. Every
	// failed call is answered by the fallback either way. Zero means 3;
	// negative is refused.
	FailureThreshold int
	// Cooldown is how long the limiter stays on its fallback before one
	// call probes Redis again. Zero means one second; negative is refused.
	Cooldown time.Duration

	// Lease is the number of tokens an instance takes per round trip for a
	// key, then hands out locally. Zero (the default) turns leasing off:
	// every decision is one round trip and exact. With leasing, a hot key
	// costs about one round trip per Lease calls, and the fleet may admit
	// up to min(Instances×Lease, LeaseTTL×Limit/Period) calls more than
	// the limit in any window (see the package doc); refusals are also
	// remembered locally until their retry-after. While one caller refills
	// a key's lease, the instance's other callers of that key wait for it
	// (within their Timeout) rather than each making a round trip; if it
	// fails, they are all answered by the fallback. Burst should
	// be at least Instances×Lease, or leases come back smaller under load.
	// A key whose leases keep running out asks for at least half a lease,
	// so under saturation a call may be refused while fewer tokens than
	// that are free; the key's throughput stays at the limit. Negative is
	// refused.
	Lease int
	// LeaseTTL is how long leased tokens may be used before they are
	// dropped. Zero means Period/100 (at least one millisecond), which holds
	// the overshoot to 1% of Limit; negative is refused.
	LeaseTTL time.Duration
	// MaxKeys bounds the number of keys held in memory for leases and the
	// local fallback. Idle keys are dropped first. Zero means 10000;
	// negative is refused.
	MaxKeys int

	// Logger receives a line when the limiter switches to its fallback and
	// when it returns to Redis. Nil means no logging.
	Logger *slog.Logger
	// Clock times cooldowns, leases and the local fallback. Nil means
	// [clock.Real]. Redis decisions use the server's clock.
	Clock clock.Clock
}

const (
	defaultPrefix  = "levee:rl:"
	defaultKey     = "default"
	defaultTimeout = 50 * time.Millisecond
	defaultMaxKeys = 10000
	// defaultMaxInFlight: enough round trips out at once to keep a lone
	// Redis busy, few enough that a queue forms and batches under load.
	defaultMaxInFlight = 4
)

// normalize validates c and fills in defaults.
func (c Config) normalize() (Config, error) {
	if c.Client == nil {
		return c, fmt.Errorf("redislimit: Client is nil, want a Redis client")
	}
	if c.Limit <= 0 {
		return c, fmt.Errorf("redislimit: Limit is %d, want > 0", c.Limit)
	}
	checks := []struct {
		name string
		bad  bool
		val  any
	}{
		{"Period", c.Period < 0, c.Period},
		{"Burst", c.Burst < 0, c.Burst},
		{"Instances", c.Instances < 0, c.Instances},
		{"FailureThreshold", c.FailureThreshold < 0, c.FailureThreshold},
		{"Cooldown", c.Cooldown < 0, c.Cooldown},
		{"Lease", c.Lease < 0, c.Lease},
		{"LeaseTTL", c.LeaseTTL < 0, c.LeaseTTL},
		{"MaxKeys", c.MaxKeys < 0, c.MaxKeys},
	}
	for _, ch := range checks {
		if ch.bad {
			return c, fmt.Errorf("redislimit: %s is %v, want >= 0", ch.name, ch.val)
		}
	}
	if c.Fallback > FailClosed {
		return c, fmt.Errorf("redislimit: Fallback is %d, want LocalShare, FailOpen or FailClosed", c.Fallback)
	}
	if c.Period == 0 {
		c.Period = time.Second
	}
	if c.Period < time.Duration(c.Limit)*time.Microsecond {
		// Times are microseconds in Redis; a finer interval would round away.
		return c, fmt.Errorf("redislimit: Period is %v for Limit %d, want at least 1µs per call", c.Period, c.Limit)
	}
	if c.Burst == 0 {
		c.Burst = c.Limit
	}
	if strings.ContainsAny(c.Prefix, "{}") {
		// A hash tag in the prefix would put every key in one slot.
		return c, fmt.Errorf("redislimit: Prefix is %q, want no braces (keys are hash-tagged after it)", c.Prefix)
	}
	if c.Prefix == "" {
		c.Prefix = defaultPrefix
	}
	if c.Key == "" {
		c.Key = defaultKey
	}
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	if c.Timeout > 0 && !contextTimeoutEnabled(c.Client) {
		return c, fmt.Errorf("redislimit: Client has ContextTimeoutEnabled false, so Timeout %v cannot bound a call; enable it in the client's options or set Timeout < 0", c.Timeout)
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = defaultMaxInFlight
	}
	if c.Instances == 0 {
		c.Instances = 1
	}
	if c.FailureThreshold == 0 {
		c.FailureThreshold = 3
	}
	if c.Cooldown == 0 {
		c.Cooldown = time.Second
	}
	if c.Lease > c.Burst {
		return c, fmt.Errorf("redislimit: Lease is %d, want <= Burst (%d)", c.Lease, c.Burst)
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = max(c.Period/100, time.Millisecond)
	}
	if c.MaxKeys == 0 {
		c.MaxKeys = defaultMaxKeys
	}
	c.Clock = clock.Or(c.Clock)
	return c, nil
}

// contextTimeoutEnabled reports whether the client honours context
// deadlines. Clients of unknown types are trusted.
func contextTimeoutEnabled(c redis.UniversalClient) bool {
	switch v := c.(type) {
	case *redis.Client:
		return v.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return v.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return v.Options().ContextTimeoutEnabled
	}
	return true
}
