// Package fallback answers for a call that failed: with a fixed value, with
// another call, or with the last good result (stale-on-error).
//
// A [Chain] is a [github.com/levee-go/levee.Fallback]: its stage,
// [github.com/levee-go/levee.StageFallback], puts it outermost in a
// pipeline, so it sees what retries, breakers, limits and time limits made of
// the call. When the call's error matches the chain's [Trigger] set (any
// failure, a timeout, an open breaker, a rate limit, a full bulkhead,
// shedding, an exhausted retry budget, any rejection), the chain tries its
// steps in order:
//
//   - [Value]: a fixed answer;
//   - [Func]: a function computing one, which may call another dependency
//     through a pipeline of its own; if it fails, the next step is tried;
//   - [Stale]: the last good result for the call's key from a [Cache], if it
//     is no older than the cache's MaxAge; the chain stores every success.
//
// Each replacement is reported as a
// [github.com/levee-go/levee.EventFallback] whose Reason names the trigger.
package fallback
