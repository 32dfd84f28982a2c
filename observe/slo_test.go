package observe_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/observe"
	"github.com/levee-go/levee/slo"
)

func TestSLOCollector(t *testing.T) {
	clk := clocktest.New(time.Time{})
	s, err := slo.New(slo.Config{Name: "checkout", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		r := levee.Success
		if i%5 == 0 {
			r = levee.Failure
		}
		s.Record(levee.Outcome{Result: r})
		clk.Advance(time.Minute)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(observe.NewSLOCollector(nil, s))
	want := `
# HELP levee_slo_events_total Events counted by an SLO, good or not.
# TYPE levee_slo_events_total counter
levee_slo_events_total{good="false",slo="checkout"} 2
levee_slo_events_total{good="true",slo="checkout"} 8
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestMetricsAndSLOCollectorShareRegistry registers both on one registry,
// as the README shows, and scrapes both sets of series over HTTP.
func TestMetricsAndSLOCollectorShareRegistry(t *testing.T) {
	clk := clocktest.New(time.Time{})
	s, err := slo.New(slo.Config{Name: "checkout", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	s.Record(levee.Outcome{Result: levee.Success})
	s.Record(levee.Outcome{Result: levee.Failure})
	s.Record(levee.Outcome{Result: levee.Success})

	reg := prometheus.NewRegistry()
	m, err := observe.NewMetrics(reg, observe.MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(observe.NewSLOCollector(nil, s)); err != nil {
		t.Fatalf("registering the SLO collector beside Metrics: %v", err)
	}
	// Metrics' own SLO gate counts a different SLO into the same series.
	g := m.SLO("search", nil, clk)
	p, _ := g.Acquire(t.Context())
	p.Done(nil)
	p, _ = m.Requests("api", clk).Acquire(t.Context())
	p.Done(nil)

	wantSeries(t, scrape(t, reg),
		`levee_slo_events_total{good="true",slo="checkout"} 2`,
		`levee_slo_events_total{good="false",slo="checkout"} 1`,
		`levee_slo_events_total{good="true",slo="search"} 1`,
		`levee_requests_total{name="api",outcome="success"} 1`,
	)
}

// TestSLOCountedTwiceFailsScrape checks the documented limit: an SLO
// exported both by the collector and by a Metrics.SLO gate makes the scrape
// fail with a duplicate-series error instead of exporting a wrong count.
func TestSLOCountedTwiceFailsScrape(t *testing.T) {
	s, err := slo.New(slo.Config{Name: "checkout"})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := observe.NewMetrics(reg, observe.MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(observe.NewSLOCollector(nil, s))
	m.SLO("checkout", nil, nil)
	if _, err := reg.Gather(); err == nil || !strings.Contains(err.Error(), "collected before with the same name and label values") {
		t.Errorf("Gather() = %v, want a duplicate-series error", err)
	}
}
