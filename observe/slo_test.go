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
