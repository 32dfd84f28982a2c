// Package gcra is the generic cell rate algorithm that redislimit runs in
// Redis, written once more in Go: as the reference the Lua script is tested
// against, and as the local limiter used when Redis cannot be reached.
//
// Times are float64 microseconds so that the arithmetic is the same, operation
// for operation, as the script's (Lua numbers are IEEE doubles): the reference
// and the script then agree exactly, not approximately.
package gcra

import "math"

// Params describe one limit: a token is earned every Interval microseconds,
// and at most Burst tokens may be taken at once from an idle key.
type Params struct {
	Interval float64 // microseconds between tokens; > 0
	Burst    float64 // whole tokens, >= 1
}

// Result is the outcome of one [Decide].
type Result struct {
	// TAT is the theoretical arrival time to store (unchanged when nothing
	// was granted).
	TAT float64
	// Granted tokens: 0, or between min and want.
	Granted int64
	// Remaining tokens that could still be taken now.
	Remaining int64
	// RetryAfter is microseconds until the next token (after a grant) or
	// until min tokens (after a refusal) become available; 0 when available
	// now. Rounded up.
	RetryAfter int64
	// ResetAfter is microseconds until the key is idle (full burst) again.
	// Rounded up.
	ResetAfter int64
}

// Decide takes between min and want tokens (as many as are available, up to
// want) at time now, given the stored theoretical arrival time tat (0 when
// the key is new). It grants nothing when fewer than min are available.
//
// The Lua script in redislimit is this function, line for line; keep them in
// step.
func Decide(p Params, tat, now float64, want, min int64) Result {
	if tat < now {
		tat = now
	}
	tau := p.Interval * p.Burst
	// tat - now first: it is exact when small (0 for an idle key), where
	// now + tau - tat would round a large now and lose a token.
	avail := math.Floor((tau - (tat - now)) / p.Interval)
	// Rounding near 2^53 µs could push avail past its bounds; clamp.
	avail = math.Max(0, math.Min(avail, p.Burst))
	grant := float64(0)
	if avail >= float64(min) {
		grant = math.Min(avail, float64(want))
	}
	if grant > 0 {
		newTAT := tat + grant*p.Interval
		retry := newTAT + p.Interval - tau - now
		if retry < 0 {
			retry = 0
		}
		return Result{
			TAT:        newTAT,
			Granted:    int64(grant),
			Remaining:  int64(avail - grant),
			RetryAfter: int64(math.Ceil(retry)),
			ResetAfter: int64(math.Ceil(newTAT - now)),
		}
	}
	retry := tat + float64(min)*p.Interval - tau - now
	if retry < 0 {
		retry = 0
	}
	return Result{
		TAT:        tat,
		Remaining:  int64(avail),
		RetryAfter: int64(math.Ceil(retry)),
		ResetAfter: int64(math.Ceil(tat - now)),
	}
}
