// Package redislimit is Levee's distributed rate limiter: a GCRA limit per
// key whose state lives in Redis, shared by every instance of a service.
//
// Each decision is one script run in at most one round trip (under load,
// a round trip it shares with others; see below): a Lua script, loaded once
// and run with EVALSHA, reads the key's theoretical arrival time, decides, and writes it
// back atomically, using the Redis server's clock (TIME) so that instances
// with skewed clocks agree. Keys are hash-tagged (Prefix + "{" + key + "}"),
// so a decision touches one slot and works the same on a single Redis, with
// Sentinel and on Redis Cluster, through any [redis.UniversalClient].
//
// # Decisions
//
// [Limiter.DecideKey] and [Limiter.DecideKeyN] return a [levee.Decision],
// the type every Levee limiter returns and the HTTP adapter reads: Limit is
// the quota ([Config.Burst]), Remaining what is left of it, RetryAfter zero
// when allowed, Reset the time until the key's quota is whole, and Rate per
// Window the configured [Config.Limit] per [Config.Period], exactly.
// [Limiter.AcquireKey] refuses with [levee.ErrLimited], so a *Limiter is a
// [levee.KeyedLimiter], interchangeable with the local ratelimit.Keyed;
// [Limiter.Acquire] is a [levee.Gate] on [Config.Key]. Whether Redis or the
// fallback decided is not in the Decision: [Limiter.UsingFallback] reports
// the limiter's state, [Limiter.Fallbacks] counts the fallback's decisions,
// and the switches are events (see below).
//
// # Batching under load
//
// A limiter keeps at most [Config.MaxInFlight] round trips (default 4) out
// to Redis at once. A decision that finds one free goes at once, alone, so
// a lone caller never waits for company. Decisions that arrive while all
// are out queue, and the next round trip to come back is followed by one
// pipeline carrying all of them (at most 128): each is still its own
// atomic script run, but they share the system calls and the per-request
// work on both ends. Batches form only when there is a queue and grow with
// it, with no timer and no goroutine of the limiter's own. A queued caller
// whose context ends leaves the queue at once with the context's error;
// once sent, a decision is answered. With 64 callers on two cores this
// halves the cost of a decision; set MaxInFlight negative to send every
// decision alone.
//
// # Leasing
//
// With [Config.Lease] set, an instance takes up to Lease tokens of a key per
// round trip and hands them out locally for at most LeaseTTL; refusals are
// remembered until their retry-after. A hot key then costs about one round
// trip per Lease calls. Tokens are always taken from Redis before they are
// used, so over a long run the fleet never admits more than the limit; but
// a token taken just before a window may be used inside it, so in any window
// the fleet may admit up to
//
//	min(Instances × Lease, LeaseTTL × Limit / Period)
//
// calls more than a limiter without leasing would. The default LeaseTTL,
// Period/100, holds that to 1% of Limit whatever the number of instances.
// Lease sizes adapt to demand (they double while leases run out and shrink
// to what was used when they expire), so a cold key wastes no tokens.
//
// # When Redis fails
//
// Every decision is bounded by [Config.Timeout] from when it is asked, time
// spent queued for a round trip or waiting for a lease's refill included,
// so a hung Redis delays no caller by more than Timeout, however many wait.
// A failed or slow call is answered by the configured [Fallback]: [LocalShare] (a local GCRA sized to
// Limit/Instances), [FailOpen] or [FailClosed]. After FailureThreshold
// consecutive failures the limiter stops calling Redis for Cooldown, then
// lets one call probe it. Both switches are emitted as
// [levee.EventStateChange] events (Policy "redislimit") and logged to
// [Config.Logger].
//
// # Idempotency-Key store
//
// [IdempotencyStore] keeps leveehttp.Idempotency's claims and stored
// responses in Redis, so a client's retry that reaches another instance is
// still answered with 409 or the replay. A claim expires with its lease,
// so a process killed mid-request frees its keys; see
// [NewIdempotencyStore].
//
// redislimit is its own module so that only programs that use it depend on
// a Redis client.
package redislimit
