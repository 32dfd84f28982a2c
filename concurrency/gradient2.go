package concurrency

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

// Gradient2Config configures a [Gradient2] algorithm. The zero value has
// the defaults of Netflix's concurrency-limits Gradient2Limit.
type Gradient2Config struct {
	// InitialLimit is the limit to start from. Zero means 20; negative is
	// refused.
	InitialLimit int
	// MinLimit and MaxLimit bound the limit. Zero means 20 and 200;
	// negative is refused, and so are bounds that exclude InitialLimit.
	MinLimit, MaxLimit int
	// Smoothing weighs each new estimate against the limit: how fast the
	// limit moves. Zero means 0.2; values outside (0, 1] are refused.
	Smoothing float64
	// QueueSize gives, for a limit, how much the limit may grow beyond
	// what the latency gradient allows: the queue it tolerates. Nil means
	// a constant 4.
	QueueSize func(limit int) int
	// LongWindow is the number of windows the long-term latency averages
	// over (an exponential average with factor 2/(LongWindow+1), after a
	// warm-up of 10 plain averages). Zero means 600; negative is refused.
	LongWindow int
}

// Gradient2 is the [Algorithm] of Netflix's Gradient2Limit. It compares the
// latency of each window (its average) with a long-term exponential average
// of it; their ratio, kept within [0.5, 1], is the gradient, and
//
//	next = limit·(1−smoothing) + (limit·gradient + queueSize)·smoothing
//
// So while latency holds the limit creeps up by the tolerated queue, and
// when latency climbs above its long-term level the limit shrinks, by at
// most half per window before smoothing. When the long-term average is
// more than twice the current latency (load has passed) it is pulled down
// by 10% per window so the limit recovers quickly.
type Gradient2 struct {
	initial, lo, hi int
	smoothing       float64
	queue           func(int) int
	factor          float64

	long  float64
	count int
	pub   atomic.Int64 // long, for LongRTT
}

// NewGradient2 returns a Gradient2 algorithm, or an error naming the first
// invalid field of cfg.
func NewGradient2(cfg Gradient2Config) (*Gradient2, error) {
	g := &Gradient2{smoothing: cfg.Smoothing, queue: cfg.QueueSize}
	var err error
	if g.initial, g.lo, g.hi, err = bounds("Gradient2Config", cfg.InitialLimit, cfg.MinLimit, cfg.MaxLimit, 20, 20, 200); err != nil {
		return nil, err
	}
	switch {
	case g.smoothing == 0:
		g.smoothing = 0.2
	case g.smoothing < 0 || g.smoothing > 1 || math.IsNaN(g.smoothing):
		return nil, fmt.Errorf("concurrency: Gradient2Config.Smoothing = %v, want in (0, 1] (0 means 0.2)", cfg.Smoothing)
	}
	lw := cfg.LongWindow
	switch {
	case lw == 0:
		lw = 600
	case lw < 0:
		return nil, fmt.Errorf("concurrency: Gradient2Config.LongWindow = %d, want > 0 (0 means 600)", cfg.LongWindow)
	}
	g.factor = 2 / float64(lw+1)
	if g.queue == nil {
		g.queue = func(int) int { return 4 }
	}
	return g, nil
}

// Bounds returns the configured initial limit and bounds.
func (g *Gradient2) Bounds() (initial, min, max int) { return g.initial, g.lo, g.hi }

// LongRTT returns the long-term latency average.
// It is safe to call while a [Limiter] runs the algorithm.
func (g *Gradient2) LongRTT() time.Duration { return time.Duration(g.pub.Load()) }

// Update applies the Gradient2 rule to one window.
func (g *Gradient2) Update(w Window, limit float64) Adjustment {
	if g.hi == 0 {
		return Adjustment{Limit: limit} // a zero value: see [NewLimiter]
	}
	short := float64(w.AvgRTT)
	if short <= 0 {
		return Adjustment{Limit: limit}
	}
	const warmup = 10
	if g.count < warmup {
		g.count++
		g.long += (short - g.long) / float64(g.count)
	} else {
		g.long = g.long*(1-g.factor) + short*g.factor
	}
	if g.long/short > 2 {
		g.long *= 0.9
	}
	g.pub.Store(int64(g.long))
	if float64(w.MaxInFlight) < limit/2 {
		return Adjustment{Limit: limit} // app-limited
	}
	q := float64(g.queue(int(limit)))
	gradient := max(0.5, min(1, g.long/short))
	next := limit*gradient + q
	next = limit*(1-g.smoothing) + next*g.smoothing
	next = min(max(next, float64(g.lo)), float64(g.hi))
	return Adjustment{Limit: next, Reason: fmt.Sprintf("gradient2: gradient=%.3f short_rtt=%v long_rtt=%v queue=%v", gradient, w.AvgRTT, time.Duration(g.long), q)}
}
