package observe

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ReloadMetrics are the metrics of a proxy's configuration reloads, on
// the [ProxyMetrics] registry:
//
//   - levee_gateway_reloads_total{source, result} counts reload attempts
//     by where the configuration came from (file, signal, admin, etcd,
//     rollback) and how they ended: applied, unchanged (identical to the
//     running one), failed (the running configuration stays) or
//     rolled_back (applied, then undone by its self-check);
//   - levee_gateway_config_version is the running configuration's version
//     number, and levee_gateway_config_applied_timestamp_seconds when it
//     was applied;
//   - levee_gateway_reload_duration_seconds is the time from a new
//     document to its runtime serving (check, build, warm and swap).
//
// A nil ReloadMetrics records nothing.
type ReloadMetrics struct {
	total    *prometheus.CounterVec
	version  prometheus.Gauge
	applied  prometheus.Gauge
	duration prometheus.Histogram
}

// Reloads returns the reload metrics of m, registering them on first use.
func (m *ProxyMetrics) Reloads() *ReloadMetrics {
	if m == nil {
		return nil
	}
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	if m.reloads != nil {
		return m.reloads
	}
	r := &ReloadMetrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "levee_gateway_reloads_total",
			Help: "Configuration reload attempts, by source and result (applied, unchanged, failed, rolled_back)."},
			[]string{"source", "result"}),
		version: prometheus.NewGauge(prometheus.GaugeOpts{Name: "levee_gateway_config_version",
			Help: "The running configuration's version number."}),
		applied: prometheus.NewGauge(prometheus.GaugeOpts{Name: "levee_gateway_config_applied_timestamp_seconds",
			Help: "When the running configuration was applied, in seconds since the Unix epoch."}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "levee_gateway_reload_duration_seconds",
			Help:    "Time from a new configuration document to its runtime serving: check, build, warm and swap.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}),
	}
	for _, c := range []prometheus.Collector{r.total, r.version, r.applied, r.duration} {
		if err := m.reg.Register(c); err != nil {
			return nil
		}
	}
	m.reloads = r
	return r
}

// Attempt counts one reload attempt from source that ended in result.
func (r *ReloadMetrics) Attempt(source, result string) {
	if r == nil {
		return
	}
	r.total.WithLabelValues(label(source), label(result)).Inc()
}

// Applied records that version, applied at at after taking d, now runs.
func (r *ReloadMetrics) Applied(version int, at time.Time, d time.Duration) {
	if r == nil {
		return
	}
	r.version.Set(float64(version))
	r.applied.Set(float64(at.UnixNano()) / 1e9)
	if d > 0 {
		r.duration.Observe(d.Seconds())
	}
}
