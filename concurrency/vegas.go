package concurrency

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// VegasConfig configures a [Vegas] algorithm. The zero value has the
// defaults of Netflix's concurrency-limits VegasLimit.
type VegasConfig struct {
	// InitialLimit is the limit to start from. Zero means 20; negative is
	// refused.
	InitialLimit int
	// MinLimit and MaxLimit bound the limit. Zero means 1 and 1000;
	// negative is refused, and so are bounds that exclude InitialLimit.
	MinLimit, MaxLimit int
	// Alpha, Beta and Threshold give, for a limit, the estimated queue
	// below which the limit grows by Increase, above which it shrinks by
	// Decrease, and at or below which it grows by Beta at once. Nil means
	// 3·log10(limit), 6·log10(limit) and log10(limit), where log10 is
	// rounded down and at least 1.
	Alpha, Beta, Threshold func(limit int) int
	// Increase and Decrease give the next limit when it grows or shrinks.
	// Nil means limit+log10(limit) and limit−log10(limit).
	Increase, Decrease func(limit float64) float64
	// Smoothing weighs the new estimate against the old limit: 1 takes the
	// estimate as it is. Zero means 1; values outside (0, 1] are refused.
	Smoothing float64
	// ProbeMultiplier sets how often the no-load latency is measured
	// afresh: after a random 0.5–1 times ProbeMultiplier·limit samples the
	// next window's latency becomes the new baseline. Zero means 30;
	// negative is refused.
	ProbeMultiplier int
	// Rand returns numbers in [0, 1) for the probe jitter. Nil means
	// math/rand/v2.
	Rand func() float64
}

// Vegas is the delay-based [Algorithm] of TCP Vegas. It keeps the lowest
// average latency seen as the no-load latency and estimates the queue the
// limit builds as limit·(1 − noload/rtt). A window with a drop shrinks the
// limit by Decrease; otherwise, when demand reached half the limit, a queue
// at or below Threshold grows the limit by Beta, a queue below Alpha grows
// it by Increase, and a queue above Beta shrinks it by Decrease.
type Vegas struct {
	initial, lo, hi    int
	alpha, beta, thr   func(int) int
	increase, decrease func(float64) float64
	smoothing          float64
	probeMul           int
	rnd                func() float64

	noload     time.Duration
	probeCount int
	jitter     float64
	pub        atomic.Int64 // noload, for NoLoadRTT
}

func log10Floor(limit int) int {
	if limit < 10 {
		return 1
	}
	return max(1, int(math.Log10(float64(limit))))
}

// NewVegas returns a Vegas algorithm, or an error naming the first invalid
// field of cfg.
func NewVegas(cfg VegasConfig) (*Vegas, error) {
	v := &Vegas{alpha: cfg.Alpha, beta: cfg.Beta, thr: cfg.Threshold, increase: cfg.Increase,
		decrease: cfg.Decrease, smoothing: cfg.Smoothing, probeMul: cfg.ProbeMultiplier, rnd: cfg.Rand}
	var err error
	if v.initial, v.lo, v.hi, err = bounds("VegasConfig", cfg.InitialLimit, cfg.MinLimit, cfg.MaxLimit, 20, 1, 1000); err != nil {
		return nil, err
	}
	switch {
	case v.smoothing == 0:
		v.smoothing = 1
	case v.smoothing < 0 || v.smoothing > 1 || math.IsNaN(v.smoothing):
		return nil, fmt.Errorf("concurrency: VegasConfig.Smoothing = %v, want in (0, 1] (0 means 1)", cfg.Smoothing)
	}
	switch {
	case v.probeMul == 0:
		v.probeMul = 30
	case v.probeMul < 0:
		return nil, fmt.Errorf("concurrency: VegasConfig.ProbeMultiplier = %d, want > 0 (0 means 30)", cfg.ProbeMultiplier)
	}
	if v.alpha == nil {
		v.alpha = func(l int) int { return 3 * log10Floor(l) }
	}
	if v.beta == nil {
		v.beta = func(l int) int { return 6 * log10Floor(l) }
	}
	if v.thr == nil {
		v.thr = log10Floor
	}
	if v.increase == nil {
		v.increase = func(l float64) float64 { return l + float64(log10Floor(int(l))) }
	}
	if v.decrease == nil {
		v.decrease = func(l float64) float64 { return l - float64(log10Floor(int(l))) }
	}
	if v.rnd == nil {
		v.rnd = rand.Float64
	}
	v.jitter = 0.5 + v.rnd()/2
	return v, nil
}

// Bounds returns the configured initial limit and bounds.
func (v *Vegas) Bounds() (initial, min, max int) { return v.initial, v.lo, v.hi }

// NoLoadRTT returns the latency Vegas takes for an empty queue: the lowest
// window average since the last probe, zero before the first window.
// It is safe to call while a [Limiter] runs the algorithm.
func (v *Vegas) NoLoadRTT() time.Duration { return time.Duration(v.pub.Load()) }

// Update applies the Vegas rule to one window; its latency is the window's
// average.
func (v *Vegas) Update(w Window, limit float64) Adjustment {
	if v.hi == 0 {
		return Adjustment{Limit: limit} // a zero value: see [NewLimiter]
	}
	defer func() { v.pub.Store(int64(v.noload)) }()
	rtt := w.AvgRTT
	if rtt <= 0 {
		return Adjustment{Limit: limit}
	}
	v.probeCount += max(w.Samples, 1)
	if v.jitter*float64(v.probeMul)*limit <= float64(v.probeCount) {
		v.jitter = 0.5 + v.rnd()/2
		v.probeCount = 0
		v.noload = rtt
		return Adjustment{Limit: limit}
	}
	if v.noload == 0 || rtt < v.noload {
		v.noload = rtt
		return Adjustment{Limit: limit}
	}
	queue := int(math.Ceil(limit * (1 - float64(v.noload)/float64(rtt))))
	cur := int(limit)
	var next float64
	var why string
	switch {
	case w.Drops > 0:
		next, why = v.decrease(limit), "drop"
	case w.MaxInFlight*2 < cur:
		return Adjustment{Limit: limit}
	case queue <= v.thr(cur):
		next, why = limit+float64(v.beta(cur)), "no queue"
	case queue < v.alpha(cur):
		next, why = v.increase(limit), "queue below alpha"
	case queue > v.beta(cur):
		next, why = v.decrease(limit), "queue above beta"
	default:
		return Adjustment{Limit: limit}
	}
	next = min(max(next, 1), float64(v.hi))
	next = (1-v.smoothing)*limit + v.smoothing*next
	return Adjustment{Limit: next, Reason: fmt.Sprintf("vegas: %s, queue=%d rtt=%v noload=%v drops=%d", why, queue, rtt, v.noload, w.Drops)}
}
