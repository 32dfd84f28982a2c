package retry

import (
	"math"
	"time"
)

// Backoff is the shape of the delay between attempts.
type Backoff uint8

const (
	// Exponential waits BaseDelay·Multiplier^n before retry n+1 (n counting
	// from zero), capped at MaxDelay. It is the default.
	Exponential Backoff = iota
	// Constant waits BaseDelay before every retry.
	Constant
)

// String returns "exponential" or "constant".
func (b Backoff) String() string {
	switch b {
	case Exponential:
		return "exponential"
	case Constant:
		return "constant"
	}
	return "unknown"
}

// Jitter spreads retries of many callers apart in time, so that they do not
// return to a recovering dependency in lockstep. With t the capped backoff
// delay and U(a, b) a uniform random duration in [a, b):
type Jitter uint8

const (
	// JitterFull waits U(0, t). It is the default: of the classic schemes it
	// spreads load best and finishes work soonest.
	JitterFull Jitter = iota
	// JitterNone waits exactly t.
	JitterNone
	// JitterEqual waits t/2 + U(0, t/2): never less than half the backoff.
	JitterEqual
	// JitterDecorrelated waits min(MaxDelay, U(BaseDelay, 3·prev)), where
	// prev is the previous delay (BaseDelay before the first retry). It
	// grows from the last delay rather than from the attempt number, so
	// Backoff and Multiplier do not apply.
	JitterDecorrelated
)

// String returns the jitter's name: "full", "none", "equal" or
// "decorrelated".
func (j Jitter) String() string {
	switch j {
	case JitterFull:
		return "full"
	case JitterNone:
		return "none"
	case JitterEqual:
		return "equal"
	case JitterDecorrelated:
		return "decorrelated"
	}
	return "unknown"
}

// Delay returns the wait before retry number n (1 for the first retry, made
// after the first attempt failed), given prev, the wait that preceded the
// attempt that just failed (zero after the first attempt). It draws from the
// configured random source. The result lies in [0, MaxDelay].
func (r *Retry) Delay(n int, prev time.Duration) time.Duration {
	r.ready()
	base, capd := r.base, r.cap
	if r.jitter == JitterDecorrelated {
		if prev < base {
			prev = base
		}
		hi := 3 * float64(prev)
		d := float64(base) + r.rand()*(hi-float64(base))
		return clampDur(d, capd)
	}
	t := float64(base)
	if r.backoff == Exponential && n > 1 {
		t *= math.Pow(r.mult, float64(n-1))
	}
	t = math.Min(t, float64(capd))
	switch r.jitter {
	case JitterFull:
		t *= r.rand()
	case JitterEqual:
		t = t/2 + r.rand()*t/2
	}
	return clampDur(t, capd)
}

// clampDur converts d to a Duration in [0, capd], treating NaN and overflow
// as capd.
func clampDur(d float64, capd time.Duration) time.Duration {
	if !(d < float64(capd)) { // also true for NaN and +Inf
		return capd
	}
	if d <= 0 {
		return 0
	}
	return time.Duration(d)
}
