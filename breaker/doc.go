// Package breaker is a circuit breaker: it watches the outcomes of calls to
// a dependency and, when the dependency keeps failing or slowing down, stops
// calling it for a while, so callers fail fast and the dependency gets room
// to recover.
//
// # Using it
//
//	b, err := breaker.New(breaker.Config{Name: "payments"})
//	...
//	p, err := b.Allow()
//	if err != nil {
//		return err // matches levee.ErrOpen and levee.ErrRejected; levee.RetryAfter(err) says when
//	}
//	err = callPayments(ctx)
//	p.Done(err) // or p.Record(levee.Outcome{Result: ..., Latency: ...})
//
// A [Breaker] is also a [levee.Gate], so it can sit in a [levee.Pipeline]
// and guard [levee.Do].
//
// # State machine
//
//	          trip condition met                 open wait elapses (timer)
//	CLOSED ─────────────────────────▶ OPEN ─────────────────────────────▶ HALF_OPEN
//	   ▲                               ▲                                      │
//	   │                               └──── probes' failure or slow rate ────┤
//	   │                                     reaches its threshold, or a      │
//	   │                                     probe is out past ProbeTimeout   │
//	   └────────────── every probe reported, rates below thresholds ──────────┘
//	                   (then an optional linear recovery ramp)
//
// Closed: every call is admitted and its outcome counted in the window. The
// breaker trips when any enabled condition holds:
//
//   - ConsecutiveFailures failures in a row;
//   - the window holds at least MinCalls calls and failures are at least
//     FailureRate percent of them;
//   - the same, for slow calls (latency >= SlowCallDuration) against
//     SlowCallRate.
//
// Ignored outcomes (a cancelled caller, a client error; see
// [levee.DefaultClassifier]) count for nothing.
//
// Open: every call is rejected with an error carrying the remaining wait
// ([levee.RetryAfter]); the same error value is returned to every caller of
// one open period, so rejecting costs one atomic load and no allocation.
// The wait is OpenWait, multiplied by OpenWaitMultiplier for each
// consecutive trip (up to OpenWaitMax), spread by OpenWaitJitter; with
// HonorRetryAfter, a Retry-After carried by the failure that tripped the
// breaker sets it instead (capped by OpenWaitMax). A timer moves the breaker
// to half-open when the wait ends, whether or not calls arrive.
//
// Half-open: exactly HalfOpenProbes calls are admitted at once, however many
// callers race for them; the others are rejected. A probe whose outcome is
// ignored gives its slot back. The breaker reopens as soon as the probes'
// failure rate (failures over HalfOpenProbes) reaches FailureRate — or, with
// the failure rate disabled, on the first failed probe — or their slow-call
// rate reaches SlowCallRate. It closes, with an empty window, once every
// probe has reported without that happening. Closing resets the backoff.
// A probe that hangs, or a permit never settled, cannot hold half-open
// forever: ProbeTimeout (30s by default) after the first probe of a
// half-open period was admitted, a probe still out reopens the breaker
// (reason probe_timeout) and its late result is ignored. With no probe out,
// half-open waits for traffic however long it takes.
//
// Recovery ramp: with RecoveryRamp set, a breaker that just closed admits a
// share of calls growing linearly from 0 to 100% over RecoveryRamp, so a
// dependency that just recovered is not flooded at once.
//
// Every transition starts a new generation. A permit carries the generation
// that admitted it, and results reported for an earlier generation — a slow
// call admitted before the breaker opened — are discarded.
//
// A permit counts once: it settles through a pooled ticket whose sequence
// number its first settle advances, so settling it again (or a copy of it)
// changes nothing — no call is counted twice and no probe slot is freed
// twice. A [Breaker] is not a [levee.Releaser], so its permits cannot be
// forged with [levee.NewPermit].
//
// # Windows
//
// The count window (the default) holds the outcomes of the last WindowSize
// calls in a ring of atomic slots. The time window (WindowDuration > 0)
// holds the calls of the last WindowDuration in WindowBuckets buckets; it
// rolls forward one bucket at a time, so old calls age out smoothly and the
// window is never reset as a whole.
//
// # Adaptive throttling
//
// With Adaptive set, the breaker follows client-side adaptive throttling
// from Google's SRE book instead of opening: it stays closed and rejects
// each call with probability
//
//	max(0, (requests − K·accepts) / (requests + 1))
//
// over the window (a 2-minute time window unless set otherwise), where
// requests counts every call, throttled ones included, and accepts the
// successful ones. K (AdaptiveK, default 2) is how many requests per
// accepted one may be sent before throttling starts.
//
// # Manual states
//
// [Breaker.ForceOpen] rejects everything, [Breaker.Disable] admits
// everything and records nothing, [Breaker.MetricsOnly] admits everything
// and records it without ever tripping; [Breaker.Reset] returns to
// automatic operation, closed with an empty window.
//
// # Defaults
//
// The zero [Config] gives: a count window of 100 calls; MinCalls 20; trip at
// a 50% failure rate; no slow-call or consecutive-failure condition; open
// for 5s (at most 80s when growing); 3 half-open probes, reopening if one is
// out for 30s; no ramp.
//
// # Events and snapshots
//
// [Breaker.OnEvent] listeners receive a [levee.Event] (Policy "breaker")
// for every state change — Reason says why, and for a trip Value and
// Threshold give the measurement in the units of [Trip] — and for every
// rejection (for ReasonAdaptive, Value is the rejection probability and for
// ReasonRecoveryRamp the share of calls admitted, both as percentages,
// 0–100). Listeners run
// outside the breaker's locks and may call the breaker; state changes reach
// them in order.
// [Breaker.Snapshot] returns the state, the window's counts and rates, the
// time of the last transition and the last trip.
//
// # Cost
//
// Admitting and recording a call costs no allocation. With a count window
// and no slow-call tracking the closed path reads no clock: an atomic load
// and a ticket from a per-processor pool to admit; to settle, one
// compare-and-swap on the ticket (the first settle is the only one) and,
// while the window holds only successes, four atomic loads that find a
// success would change nothing, so nothing is written. The time
// window adds one monotonic clock read per recorded call. Rejecting while
// open is one atomic load.
//
// Figures from breaker_bench_test.go (admit + record one success, ns/op,
// 0 allocs each; a 2-core shared AMD EPYC VM, Go 1.26, so only indicative;
// a monotonic clock read costs about 26ns there):
//
//	count window                       20     parallel  17–29
//	time window                        50     parallel  46–60
//	count window + slow-call tracking  80
//	adaptive (2-minute time window)    77
//	open (reject)                       3     parallel    3
package breaker
