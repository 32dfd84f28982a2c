package observe

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/levee-go/levee/slo"
)

// SLOCollector exports the cumulative counts of in-process SLOs as
// levee_slo_events_total{slo, good}, the series that the rules written by
// slo.WritePrometheusRules read, so the Prometheus view and the in-process
// view count the same events. It reads each SLO's totals per scrape and costs
// nothing per event. Do not also count the same SLO with [Metrics.SLO]: that
// gate is for SLOs kept only in Prometheus.
type SLOCollector struct {
	slos []*slo.SLO
	desc *prometheus.Desc
}

// NewSLOCollector returns a collector for slos; register it with a
// prometheus.Registerer that does not also hold [Metrics] (whose
// levee_slo_events_total would collide), or pass the SLOs here only.
func NewSLOCollector(constLabels prometheus.Labels, slos ...*slo.SLO) *SLOCollector {
	return &SLOCollector{
		slos: slos,
		desc: prometheus.NewDesc(slo.EventsMetric, "Events counted by an SLO, good or not.", []string{"slo", "good"}, constLabels),
	}
}

// Describe implements prometheus.Collector.
func (c *SLOCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *SLOCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.slos {
		t := s.Totals()
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(t.Good), s.Name(), "true")
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(t.Bad()), s.Name(), "false")
	}
}

var _ prometheus.Collector = (*SLOCollector)(nil)
