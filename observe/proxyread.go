package observe

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// ProxyReading is a reading of a [ProxyMetrics]' request series, as plain
// values, for a dashboard inside the process that shows them without
// scraping and parsing its own /metrics. Every count is cumulative since
// the series appeared; take two readings and subtract for rates.
type ProxyReading struct {
	// Requests is one entry per levee_gateway_requests_total series.
	Requests []RequestCount
	// Durations is one entry per levee_gateway_request_duration_seconds
	// series.
	Durations []DurationHistogram
	// Targets is one entry per levee_gateway_target_requests_total series.
	Targets []TargetCount
}

// RequestCount is the count of one route's requests with one status class
// and reason ("none" when the upstream answered).
type RequestCount struct {
	Route, Upstream, StatusClass, Reason string
	Count                                uint64
}

// DurationHistogram is the duration histogram of one route's requests
// with one status class. Bounds are the buckets' upper bounds in seconds,
// in increasing order; Cumulative[i] counts the requests that took at
// most Bounds[i]; Count counts them all (the +Inf bucket) and Sum is
// their total duration in seconds.
type DurationHistogram struct {
	Route, Upstream, StatusClass string
	Bounds                       []float64
	Cumulative                   []uint64
	Count                        uint64
	Sum                          float64
}

// TargetCount is the count of requests forwarded to one target of an
// upstream with one status class.
type TargetCount struct {
	Upstream, Target, StatusClass string
	Count                         uint64
}

// Read returns the current values of the request series. It collects only
// the three request collectors, not the runtime's and the process's, and
// allocates a few values per series: call it once per dashboard update,
// not per request.
func (m *ProxyMetrics) Read() ProxyReading {
	var r ProxyReading
	collect(m.requests, func(l map[string]string, d *dto.Metric) {
		r.Requests = append(r.Requests, RequestCount{Route: l["route"], Upstream: l["upstream"],
			StatusClass: l["status_class"], Reason: l["reason"], Count: uint64(d.GetCounter().GetValue())})
	})
	collect(m.duration, func(l map[string]string, d *dto.Metric) {
		h := d.GetHistogram()
		dh := DurationHistogram{Route: l["route"], Upstream: l["upstream"], StatusClass: l["status_class"],
			Count: h.GetSampleCount(), Sum: h.GetSampleSum()}
		for _, b := range h.GetBucket() {
			dh.Bounds = append(dh.Bounds, b.GetUpperBound())
			dh.Cumulative = append(dh.Cumulative, b.GetCumulativeCount())
		}
		r.Durations = append(r.Durations, dh)
	})
	collect(m.targets, func(l map[string]string, d *dto.Metric) {
		r.Targets = append(r.Targets, TargetCount{Upstream: l["upstream"], Target: l["target"],
			StatusClass: l["status_class"], Count: uint64(d.GetCounter().GetValue())})
	})
	return r
}

// collect passes each metric of c, with its labels, to fn.
func collect(c prometheus.Collector, fn func(map[string]string, *dto.Metric)) {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	for pm := range ch {
		var d dto.Metric
		if err := pm.Write(&d); err != nil {
			continue // a metric that cannot write itself has no value to show
		}
		labels := make(map[string]string, len(d.GetLabel()))
		for _, lp := range d.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		fn(labels, &d)
	}
}
