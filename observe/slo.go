package observe

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/levee-go/levee/slo"
)

// SLOCollector exports the cumulative counts of in-process SLOs as
// levee_slo_events_total{slo, good}, the series that the rules written by
// slo.WritePrometheusRules read, so the Prometheus view and the in-process
// view count the same events. It reads each SLO's totals per scrape and costs
// nothing per event.
//
// It registers beside [Metrics] on the same registry: both export
// levee_slo_events_total, Metrics for the SLOs counted by its [Metrics.SLO]
// gates and the collector for in-process SLOs, and a scrape merges them into
// one family. Count each SLO one way only: an SLO name exported by both makes
// the scrape fail with a duplicate-series error. Give the collector the same
// const labels as Metrics so the family's series carry the same label names.
type SLOCollector struct {
	slos []*slo.SLO
	desc *prometheus.Desc
}

// NewSLOCollector returns a collector for slos, to register on any
// prometheus.Registerer, including one that holds [Metrics]. Nil SLOs are
// skipped.
func NewSLOCollector(constLabels prometheus.Labels, slos ...*slo.SLO) *SLOCollector {
	return &SLOCollector{
		slos: slos,
		desc: prometheus.NewDesc(slo.EventsMetric, sloEventsHelp, []string{"slo", "good"}, constLabels),
	}
}

// sloEventsHelp is the help of levee_slo_events_total, the same for
// [Metrics] and [SLOCollector] so that a scrape can merge their series.
const sloEventsHelp = "Events counted by an SLO, good or not."

// Describe implements prometheus.Collector. It describes nothing, which makes
// the collector "unchecked": the registry then lets it export
// levee_slo_events_total beside [Metrics], which registers that name too, and
// checks the series for duplicates at each scrape instead.
func (c *SLOCollector) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (c *SLOCollector) Collect(ch chan<- prometheus.Metric) {
	if c == nil {
		return
	}
	for _, s := range c.slos {
		if s == nil {
			continue
		}
		t := s.Totals()
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(t.Good), s.Name(), "true")
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(t.Bad()), s.Name(), "false")
	}
}

var _ prometheus.Collector = (*SLOCollector)(nil)
