package concurrency

import (
	"fmt"
	"time"
)

// AIMDConfig configures an [AIMD] algorithm. The zero value has the defaults
// of Netflix's concurrency-limits AIMDLimit.
type AIMDConfig struct {
	// InitialLimit is the limit to start from. Zero means 20; negative is
	// refused.
	InitialLimit int
	// MinLimit and MaxLimit bound the limit. Zero means 20 and 200;
	// negative is refused, and so are bounds that exclude InitialLimit.
	MinLimit, MaxLimit int
	// BackoffRatio is what a window with a drop multiplies the limit by.
	// Zero means 0.9; values outside [0.5, 1) are refused.
	BackoffRatio float64
	// Timeout is the latency that counts as a drop even when the call
	// succeeded. Zero means 5s; negative is refused.
	Timeout time.Duration
}

// AIMD is the loss-based [Algorithm]: additive increase, multiplicative
// decrease, as TCP Reno does with its window. A window with a drop (a
// failure, a time-out, or a call slower than [AIMDConfig.Timeout]) sets the
// limit to limit·BackoffRatio (and at least one lower); a window without
// one, in which demand reached half the limit, adds one. It reacts to
// failures only, not to latency below the timeout: use it where the
// dependency says "too much" by failing.
type AIMD struct {
	initial, lo, hi int
	ratio           float64
	timeout         time.Duration
}

// NewAIMD returns an AIMD algorithm, or an error naming the first invalid
// field of cfg.
func NewAIMD(cfg AIMDConfig) (*AIMD, error) {
	a := &AIMD{ratio: cfg.BackoffRatio, timeout: cfg.Timeout}
	var err error
	if a.initial, a.lo, a.hi, err = bounds("AIMDConfig", cfg.InitialLimit, cfg.MinLimit, cfg.MaxLimit, 20, 20, 200); err != nil {
		return nil, err
	}
	switch {
	case a.ratio == 0:
		a.ratio = 0.9
	case a.ratio < 0.5 || a.ratio >= 1:
		return nil, fmt.Errorf("concurrency: AIMDConfig.BackoffRatio = %v, want in [0.5, 1) (0 means 0.9)", cfg.BackoffRatio)
	}
	switch {
	case a.timeout == 0:
		a.timeout = 5 * time.Second
	case a.timeout < 0:
		return nil, fmt.Errorf("concurrency: AIMDConfig.Timeout = %v, want > 0 (0 means 5s)", cfg.Timeout)
	}
	return a, nil
}

// Bounds returns the configured initial limit and bounds.
func (a *AIMD) Bounds() (initial, min, max int) { return a.initial, a.lo, a.hi }

// Update applies the AIMD rule to one window.
func (a *AIMD) Update(w Window, limit float64) Adjustment {
	if a.hi == 0 {
		return Adjustment{Limit: limit} // a zero value: see [NewLimiter]
	}
	switch {
	case w.Drops > 0 || w.MaxRTT > a.timeout:
		next := max(1, min(limit-1, float64(int(limit*a.ratio))))
		return Adjustment{Limit: next, Reason: fmt.Sprintf("aimd: drops=%d max_rtt=%v timeout=%v", w.Drops, w.MaxRTT, a.timeout)}
	case w.MaxInFlight*2 >= int(limit):
		return Adjustment{Limit: limit + 1, Reason: fmt.Sprintf("aimd: no drop in %d samples, in_flight=%d", w.Samples, w.MaxInFlight)}
	}
	return Adjustment{Limit: limit}
}

// bounds applies the defaults and checks the initial limit and the bounds
// of an algorithm's config.
func bounds(cfg string, initial, lo, hi, defInitial, defLo, defHi int) (int, int, int, error) {
	switch {
	case initial < 0:
		return 0, 0, 0, fmt.Errorf("concurrency: %s.InitialLimit = %d, want >= 0 (0 means %d)", cfg, initial, defInitial)
	case lo < 0:
		return 0, 0, 0, fmt.Errorf("concurrency: %s.MinLimit = %d, want >= 0 (0 means %d)", cfg, lo, defLo)
	case hi < 0:
		return 0, 0, 0, fmt.Errorf("concurrency: %s.MaxLimit = %d, want >= 0 (0 means %d)", cfg, hi, defHi)
	}
	if lo == 0 {
		lo = defLo
		if initial > 0 {
			lo = min(lo, initial)
		}
	}
	if hi == 0 {
		hi = max(defHi, lo, initial)
	}
	if initial == 0 {
		initial = min(max(defInitial, lo), hi)
	}
	switch {
	case hi < lo:
		return 0, 0, 0, fmt.Errorf("concurrency: %s.MaxLimit = %d, want >= MinLimit (%d)", cfg, hi, lo)
	case initial < lo || initial > hi:
		return 0, 0, 0, fmt.Errorf("concurrency: %s.InitialLimit = %d, want within [MinLimit, MaxLimit] = [%d, %d]", cfg, initial, lo, hi)
	}
	return initial, lo, hi, nil
}
