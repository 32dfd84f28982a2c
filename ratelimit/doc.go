// Package ratelimit provides local rate limiters: a token bucket, GCRA and
// a sliding-window counter, and a keyed limiter with bounded memory.
//
// Every limiter is a Levee gate (Stage [levee.StageLimit]): in a pipeline its
// rejection matches [levee.ErrLimited] and [levee.ErrRejected] and carries
// the wait for [levee.RetryAfter]. Outside a pipeline, call Allow for a bool
// or Decide for a [levee.Decision] (allowed, limit, remaining, retry-after,
// reset, and the configured rate as Rate per Window), which is what package
// leveehttp turns into 429 responses and rate-limit header fields. Limit is
// the burst (a sliding window's limit); Rate and Window are the configured
// Rate's Events and Per exactly, whatever the burst. [Keyed] is a
// [levee.KeyedLimiter], so leveehttp.RateLimit takes it as it takes the
// Redis-backed limiter.
//
// # Algorithms
//
// [GCRA] and [TokenBucket] share one exact arithmetic. With T the rate's
// interval (Per/Events, in integer nanoseconds) and τ = Burst·T, the state is
// one timestamp, the theoretical arrival time TAT, at which the bucket is
// full again. A request for n tokens at now is admitted when
//
//	max(TAT, now) + n·T − τ ≤ now
//
// and sets TAT to max(TAT, now) + n·T. The left side minus now is the
// retry-after of a rejection, ⌊(now + τ − TAT)/T⌋ the remaining tokens and
// TAT − now the time to a full bucket. It is a token bucket holding
// (now + τ − TAT)/T tokens, checked against a textbook bucket (tokens and a
// last-update time) on random sequences. TokenBucket adds Reserve and Wait,
// which may take future tokens; GCRA stays decide-only, its TAT never more
// than τ ahead of now, which is what a keyed or distributed limiter stores.
//
// [SlidingWindow] counts calls in fixed windows of length W and admits n
// when prev·(W − e)/W + cur + n ≤ limit, e being the time into the current
// window: the previous window is assumed spread evenly and counts for the
// part of it still in view. RetryAfter and Reset solve that inequality
// exactly; a burst is forgotten after at most two windows.
//
// # Warm-up
//
// With [Config.WarmUp] a cold limiter starts slow: its interval is
// ColdFactor·T (default 3, so a third of the rate) and falls linearly to T
// over WarmUp. Its burst shrinks in proportion (at least one call), since τ
// is a time. A limiter is cold when new, and again once its bucket has been
// full for a whole WarmUp: an idle period, not light traffic, cools it. This
// is the shape of Guava's SmoothWarmingUp and Sentinel's warm-up controller
// (a linear ramp from rate/coldFactor), but the ramp runs on time since the
// limiter became busy rather than on stored permits, which keeps the state
// one timestamp and the decision one compare-and-swap.
//
// # Run-time changes
//
// SetRate and SetBurst keep the tokens available at the moment of the change
// (capped at the new burst): recent use is not forgotten, and raising the
// burst lets tokens accrue up to it at the rate instead of granting them at
// once. A sliding window keeps its counts.
//
// # Cost
//
// Allow and Decide read the clock once ([clock.Clock.Nanotime]), load the
// settings and the state, and compare-and-swap; there is no lock, no float
// (outside the warm-up ramp's 128-bit integer division) and no allocation on
// either the admitted or the rejected path. The gate path (Acquire) does
// not allocate either: a limiter returns one rejection error of its own
// whose RetryAfter is computed from the limiter's state when it is read.
// [Keyed.Acquire] and [Keyed.AcquireKey] return shared rejections for
// waits under a minute (rounded up); [Keyed.DecideKey] never allocates for
// a known key.
//
// The clock read is most of the cost on many machines (a vDSO call, or a
// system call where the virtual machine offers no usable TSC). With
// CoarseClock set ([Config.CoarseClock]) a limiter loads a reading that one
// goroutine per process refreshes every [CoarseResolution] instead. What it
// trades: readings lag by up to a millisecond (more when that goroutine is
// scheduled late), so tokens accrue in millisecond steps and Reset and
// Remaining may be a millisecond behind; the burst must span a tick. A
// refusal whose wait is under 100ms is confirmed with an exact reading, so
// a lagging reading costs a clock read on such refusals but never refuses a
// call the exact clock admits.
//
// # Keyed limits and memory
//
// [Keyed] holds a GCRA timestamp per key in 256 shards (by default), each a
// slice of 24-byte slots (the TAT and the key's string header) and an
// open-addressing index of 8-byte entries (32 bits of the key's hash and the
// slot number) that holds no pointers. A decision for a known key hashes it
// once (hash/maphash), takes its shard's read lock and makes one
// compare-and-swap. Memory is bounded by MaxKeys (default 1<<20); keys whose
// bucket has been full for IdleTimeout (default one minute) are dropped as
// new keys arrive or by [Keyed.Sweep], losing nothing, since a full bucket is
// a new key's state. Measured with 1M keys (TestKeyedMemory and
// BenchmarkKeyedMemory, runtime.MemStats HeapAlloc before and after, keys kept
// alive): 60 bytes per key for 11-byte keys, that is 44 bytes of limiter
// (index and slot slack included) plus the key's own 16-byte allocation.
// Specific keys can have their own limits ([KeyedConfig.Overrides]).
//
// # Defaults
//
//   - The zero [Rate] means no limit; Rate.Per zero means one second.
//   - Burst zero means Rate.Events (a full period's quota at once).
//   - ColdFactor zero means 3; WarmUp zero means none.
//   - Keyed: MaxKeys 1<<20, Shards 256, IdleTimeout one minute.
//   - A nil Clock means [clock.Real]; CoarseClock false reads it on every call.
//   - A limiter must be made by its constructor: the zero value of [GCRA],
//     [TokenBucket], [SlidingWindow] or [Keyed] refuses every call and its
//     methods that return an error return [ErrNotNew].
package ratelimit
