package observe

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/slo"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Runtime distributions a [RuntimeSLI] can watch: the names are
// runtime/metrics', in seconds.
const (
	// SchedLatencies is how long goroutines waited, ready to run, before
	// running: it grows when the runtime is starved of CPU (too few cores
	// for the work, a CPU quota throttling the process), whatever the
	// code does.
	SchedLatencies = "/sched/latencies:seconds"
	// GCPauses is how long the world was stopped for the garbage
	// collector.
	GCPauses = "/sched/pauses/total/gc:seconds"
)

// runtimeMetrics are the runtime/metrics the Prometheus collector of
// [RuntimeCollector] adds to the Go collector's defaults: the scheduling
// latency and GC pause distributions, and the heap goal (goroutines are a
// default).
var runtimeMetrics = regexp.MustCompile(`^(/sched/latencies:seconds|/sched/pauses/total/gc:seconds|/gc/heap/goal:bytes)$`)

// RuntimeCollector returns the Go runtime's collector with the
// distributions that tell a starved runtime from slow code: besides the
// defaults (go_goroutines, go_memstats_*, go_gc_duration_seconds), it
// exports go_sched_latencies_seconds (how long runnable goroutines waited
// for a CPU), go_sched_pauses_total_gc_seconds (stop-the-world GC pauses)
// and go_gc_heap_goal_bytes. Register it in place of
// collectors.NewGoCollector, not beside it. [NewProxyMetrics] uses it.
func RuntimeCollector() prometheus.Collector {
	return collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
		collectors.GoRuntimeMetricsRule{Matcher: runtimeMetrics}))
}

// Defaults of a [RuntimeSLIConfig].
const (
	DefaultRuntimeQuantile = 0.99
	DefaultRuntimeInterval = time.Second
)

// RuntimeSLIConfig configures a [RuntimeSLI].
type RuntimeSLIConfig struct {
	// Metric is the runtime/metrics distribution to watch, in seconds.
	// Empty means [SchedLatencies].
	Metric string
	// Quantile is the quantile of each interval's distribution that is
	// recorded, in (0, 1]. Zero means [DefaultRuntimeQuantile] (0.99).
	Quantile float64
	// Interval is how often the distribution is read, and so the slice of
	// time each recorded outcome stands for. Zero means
	// [DefaultRuntimeInterval] (1s); negative is refused.
	Interval time.Duration
	// SLO receives one outcome per interval whose latency is the
	// interval's quantile; it must be a latency SLO (its Latency is the
	// threshold: "99% of seconds have a p99 scheduling latency of at most
	// 5ms"). Required.
	SLO *slo.SLO
	// Clock schedules the readings of [RuntimeSLI.Start]. Nil means the
	// real clock.
	Clock clock.Clock
}

// RuntimeSLI feeds an SLO from a runtime/metrics latency distribution, so
// that a latency objective can tell "the code is slow" from "the runtime
// is starved": every interval it reads the distribution, takes the
// configured quantile of what was recorded since the previous reading, and
// records it into the SLO as one outcome. An interval with nothing recorded
// records nothing. A reading costs well under a microsecond and allocates
// nothing (BenchmarkRuntimeSLISample).
type RuntimeSLI struct {
	cfg RuntimeSLIConfig
	clk clock.Clock

	mu      sync.Mutex
	sample  []metrics.Sample
	prev    []uint64 // bucket counts at the previous reading
	last    time.Duration
	timer   clock.Timer
	stopped bool
}

// NewRuntimeSLI checks cfg and takes the first reading, so the first
// interval starts now.
func NewRuntimeSLI(cfg RuntimeSLIConfig) (*RuntimeSLI, error) {
	if cfg.SLO == nil {
		return nil, errors.New("observe: RuntimeSLIConfig.SLO is nil")
	}
	if cfg.SLO.Config().Latency <= 0 {
		return nil, fmt.Errorf("observe: RuntimeSLIConfig.SLO %q must be a latency SLO (Config.Latency > 0)", cfg.SLO.Name())
	}
	if cfg.Metric == "" {
		cfg.Metric = SchedLatencies
	}
	if cfg.Quantile == 0 {
		cfg.Quantile = DefaultRuntimeQuantile
	}
	if !(cfg.Quantile > 0 && cfg.Quantile <= 1) {
		return nil, fmt.Errorf("observe: RuntimeSLIConfig.Quantile %v must be in (0, 1]", cfg.Quantile)
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultRuntimeInterval
	}
	if cfg.Interval < 0 {
		return nil, fmt.Errorf("observe: RuntimeSLIConfig.Interval %v must be positive", cfg.Interval)
	}
	if !isHistogram(cfg.Metric) {
		return nil, fmt.Errorf("observe: RuntimeSLIConfig.Metric %q is not a runtime/metrics distribution of this Go version", cfg.Metric)
	}
	r := &RuntimeSLI{cfg: cfg, clk: clock.Or(cfg.Clock), sample: []metrics.Sample{{Name: cfg.Metric}}}
	metrics.Read(r.sample)
	r.prev = append([]uint64(nil), r.sample[0].Value.Float64Histogram().Counts...)
	return r, nil
}

func isHistogram(name string) bool {
	for _, d := range metrics.All() {
		if d.Name == name {
			return d.Kind == metrics.KindFloat64Histogram
		}
	}
	return false
}

// Sample reads the distribution now, records the quantile of what was
// recorded since the previous reading into the SLO, and returns it; ok is
// false when nothing was recorded in between (and nothing is recorded into
// the SLO).
func (r *RuntimeSLI) Sample() (q time.Duration, ok bool) {
	r.mu.Lock()
	metrics.Read(r.sample)
	h := r.sample[0].Value.Float64Histogram()
	q, ok = deltaQuantile(h.Buckets, r.prev, h.Counts, r.cfg.Quantile)
	copy(r.prev, h.Counts)
	if ok {
		r.last = q
	}
	r.mu.Unlock()
	if ok {
		r.cfg.SLO.Record(levee.Outcome{Result: levee.Success, Latency: q})
	}
	return q, ok
}

// Last returns the quantile of the last interval that recorded anything.
func (r *RuntimeSLI) Last() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// Start samples every interval on the configured clock until [RuntimeSLI.Stop].
// Starting a started RuntimeSLI does nothing.
func (r *RuntimeSLI) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		return
	}
	r.stopped = false
	r.armLocked()
}

func (r *RuntimeSLI) armLocked() {
	r.timer = r.clk.AfterFunc(r.cfg.Interval, func() {
		r.Sample()
		r.mu.Lock()
		defer r.mu.Unlock()
		if !r.stopped {
			r.armLocked()
		}
	})
}

// Stop ends the readings started by [RuntimeSLI.Start].
func (r *RuntimeSLI) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
}

// deltaQuantile returns the q-quantile of the events counted between two
// readings of one runtime/metrics histogram: buckets are its boundaries
// (len(counts)+1 of them, the first possibly -Inf and the last +Inf), prev
// and cur the counts at the two readings. The quantile is the upper
// boundary of the bucket it falls in (the lower one for the last,
// unbounded bucket), so it errs on the side of reporting trouble. ok is
// false when no event was counted in between.
func deltaQuantile(buckets []float64, prev, cur []uint64, q float64) (d time.Duration, ok bool) {
	var total uint64
	for i := range cur {
		total += cur[i] - prev[i]
	}
	if total == 0 {
		return 0, false
	}
	rank := uint64(math.Ceil(q * float64(total)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i := range cur {
		seen += cur[i] - prev[i]
		if seen < rank {
			continue
		}
		bound := buckets[i+1]
		if math.IsInf(bound, 1) {
			bound = buckets[i]
		}
		return secondsToDuration(bound), true
	}
	return secondsToDuration(buckets[len(buckets)-1]), true
}

func secondsToDuration(s float64) time.Duration {
	switch {
	case math.IsInf(s, -1) || s <= 0:
		return 0
	case s >= float64(math.MaxInt64)/1e9:
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(s * 1e9)
}
