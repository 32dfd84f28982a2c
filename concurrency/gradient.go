package concurrency

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"
)

// GradientConfig configures a [Gradient] algorithm. The zero value has the
// defaults of Envoy's adaptive concurrency filter where it has them.
type GradientConfig struct {
	// MinConcurrency is the limit while the minimum latency is measured,
	// the limit to start from, and the lowest limit. Zero means 3;
	// negative is refused.
	MinConcurrency int
	// MaxLimit is the highest limit. Zero means 1000; negative is refused.
	MaxLimit int
	// Percentile summarises the latencies of a window, and of the
	// minimum-latency measurement, as this quantile. Zero means 0.5 (the
	// median); values outside (0, 1] are refused.
	Percentile float64
	// Buffer is the share of the minimum latency that is tolerated above
	// it before the limit shrinks. Zero means 0.25; negative is refused.
	Buffer float64
	// MinRTTInterval is the time between measurements of the minimum
	// latency. Zero means one minute (Envoy requires it to be set);
	// negative is refused.
	MinRTTInterval time.Duration
	// Jitter delays each measurement by a random share, up to this
	// fraction, of MinRTTInterval, so that a fleet does not measure in
	// step. Zero means 0.15; negative means none; above 1 is refused.
	Jitter float64
	// RequestCount is how many calls a minimum-latency measurement takes.
	// Zero means 50; negative is refused.
	RequestCount int
	// Rand returns numbers in [0, 1) for the jitter. Nil means
	// math/rand/v2.
	Rand func() float64
}

// Gradient is the [Algorithm] of Envoy's adaptive concurrency filter. It
// measures the minimum latency (minRTT) now and then, with the limit pinned
// at MinConcurrency so that the measurement sees no queue: the Percentile of
// the next RequestCount latencies. Between measurements each window's
// Percentile latency (sampleRTT) gives
//
//	gradient = (minRTT·(1+Buffer)) / sampleRTT, within [0.5, 2]
//	next     = limit·gradient + √(limit·gradient)
//
// the square root being headroom for bursts. A measurement starts the
// first window and every MinRTTInterval plus jitter; after it the limit
// returns to what it was.
type Gradient struct {
	minC, hi     int
	pct, buffer  float64
	interval     time.Duration
	jitter       float64
	count        int
	rnd          func() float64
	measuring    bool
	samples      []time.Duration
	saved        float64
	minRTT       time.Duration
	nextMeasure  int64
	pubMin       atomic.Int64
	pubMeasuring atomic.Bool
}

// NewGradient returns a Gradient algorithm, or an error naming the first
// invalid field of cfg.
func NewGradient(cfg GradientConfig) (*Gradient, error) {
	g := &Gradient{minC: cfg.MinConcurrency, hi: cfg.MaxLimit, pct: cfg.Percentile, buffer: cfg.Buffer,
		interval: cfg.MinRTTInterval, jitter: cfg.Jitter, count: cfg.RequestCount, rnd: cfg.Rand}
	switch {
	case g.minC < 0:
		return nil, fmt.Errorf("concurrency: GradientConfig.MinConcurrency = %d, want >= 0 (0 means 3)", cfg.MinConcurrency)
	case g.hi < 0:
		return nil, fmt.Errorf("concurrency: GradientConfig.MaxLimit = %d, want >= 0 (0 means 1000)", cfg.MaxLimit)
	case g.pct < 0 || g.pct > 1 || math.IsNaN(g.pct):
		return nil, fmt.Errorf("concurrency: GradientConfig.Percentile = %v, want in (0, 1] (0 means 0.5)", cfg.Percentile)
	case g.buffer < 0 || math.IsNaN(g.buffer):
		return nil, fmt.Errorf("concurrency: GradientConfig.Buffer = %v, want >= 0 (0 means 0.25)", cfg.Buffer)
	case g.interval < 0:
		return nil, fmt.Errorf("concurrency: GradientConfig.MinRTTInterval = %v, want >= 0 (0 means 1m)", cfg.MinRTTInterval)
	case g.jitter > 1 || math.IsNaN(g.jitter):
		return nil, fmt.Errorf("concurrency: GradientConfig.Jitter = %v, want <= 1 (0 means 0.15, negative none)", cfg.Jitter)
	case g.count < 0:
		return nil, fmt.Errorf("concurrency: GradientConfig.RequestCount = %d, want >= 0 (0 means 50)", cfg.RequestCount)
	}
	if g.minC == 0 {
		g.minC = 3
	}
	if g.hi == 0 {
		g.hi = max(1000, g.minC)
	}
	if g.hi < g.minC {
		return nil, fmt.Errorf("concurrency: GradientConfig.MaxLimit = %d, want >= MinConcurrency (%d)", g.hi, g.minC)
	}
	if g.pct == 0 {
		g.pct = 0.5
	}
	if cfg.Buffer == 0 {
		g.buffer = 0.25
	}
	if g.interval == 0 {
		g.interval = time.Minute
	}
	switch {
	case g.jitter == 0:
		g.jitter = 0.15
	case g.jitter < 0:
		g.jitter = 0
	}
	if g.count == 0 {
		g.count = 50
	}
	if g.rnd == nil {
		g.rnd = rand.Float64
	}
	g.samples = make([]time.Duration, 0, g.count)
	g.measuring = true
	g.pubMeasuring.Store(true)
	g.saved = float64(g.minC)
	return g, nil
}

// Bounds returns MinConcurrency as the initial limit and lower bound, and
// MaxLimit.
func (g *Gradient) Bounds() (initial, min, max int) { return g.minC, g.minC, g.hi }

// MinRTT returns the last measured minimum latency, zero before the first
// measurement ends.
// It is safe to call while a [Limiter] runs the algorithm.
func (g *Gradient) MinRTT() time.Duration { return time.Duration(g.pubMin.Load()) }

// Measuring reports whether a minimum-latency measurement is under way.
// It is safe to call while a [Limiter] runs the algorithm.
func (g *Gradient) Measuring() bool { return g.pubMeasuring.Load() }

// Update applies the gradient rule to one window, or advances a
// minimum-latency measurement.
func (g *Gradient) Update(w Window, limit float64) Adjustment {
	if g.hi == 0 {
		return Adjustment{Limit: limit} // a zero value: see [NewLimiter]
	}
	defer func() {
		g.pubMin.Store(int64(g.minRTT))
		g.pubMeasuring.Store(g.measuring)
	}()
	pin := float64(g.minC)
	if !g.measuring && w.End >= g.nextMeasure {
		g.measuring = true
		g.saved = limit
		g.samples = g.samples[:0]
		return Adjustment{Limit: pin, Pin: true, Reason: "gradient: measuring min_rtt"}
	}
	if g.measuring {
		// Take what is missing evenly across the window's sorted
		// latencies, so a busy window does not give only its fastest.
		if need, have := g.count-len(g.samples), len(w.RTTs); have <= need {
			g.samples = append(g.samples, w.RTTs...)
		} else {
			for i := range need {
				g.samples = append(g.samples, w.RTTs[i*have/need])
			}
		}
		if len(g.samples) < g.count {
			return Adjustment{Limit: pin, Pin: true}
		}
		slices.Sort(g.samples)
		g.minRTT = quantile(g.samples, g.pct, 0)
		g.measuring = false
		g.nextMeasure = w.End + int64(g.interval) + int64(g.jitter*g.rnd()*float64(g.interval))
		return Adjustment{Limit: g.saved, Pin: true, Reason: fmt.Sprintf("gradient: min_rtt=%v from %d samples", g.minRTT, len(g.samples))}
	}
	sample := w.Quantile(g.pct)
	if sample <= 0 || g.minRTT <= 0 {
		return Adjustment{Limit: limit}
	}
	gradient := float64(g.minRTT) * (1 + g.buffer) / float64(sample)
	gradient = max(0.5, min(2, gradient))
	l := limit * gradient
	next := l + math.Sqrt(l)
	return Adjustment{Limit: next, Reason: fmt.Sprintf("gradient: gradient=%.3f sample_rtt=%v min_rtt=%v headroom=%.1f", gradient, sample, g.minRTT, math.Sqrt(l))}
}
