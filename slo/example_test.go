package slo_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/slo"
)

// A 99.9% availability objective over 30 days sees 1% errors: the budget
// burns ten times too fast and lasts three days.
func Example() {
	clk := clocktest.New(time.Time{}) // tests use a fake clock; omit Clock in production
	s, err := slo.New(slo.Config{Name: "checkout", Objective: 0.999, Clock: clk})
	if err != nil {
		panic(err)
	}
	for i := range 1000 {
		if i%100 == 0 {
			s.Record(levee.Outcome{Result: levee.Failure})
		} else {
			s.Record(levee.Outcome{Result: levee.Success})
		}
	}
	st := s.Status()
	fmt.Printf("SLI %.3f, burn rate %.1f×\n", st.SLI, st.BurnRate)
	fmt.Printf("budget lasts %v\n", st.TimeToExhaustion.Round(time.Hour))
	// Output:
	// SLI 0.990, burn rate 10.0×
	// budget lasts 72h0m0s
}

// An SLO is a gate that admits every call, so it can sit in a pipeline and
// measure each call's latency itself.
func ExampleSLO_Acquire() {
	clk := clocktest.New(time.Time{})
	s, _ := slo.New(slo.Config{Name: "search", Latency: 100 * time.Millisecond, Objective: 0.99, Clock: clk})
	p := levee.New(s)
	for _, d := range []time.Duration{20 * time.Millisecond, 80 * time.Millisecond, 250 * time.Millisecond} {
		_ = p.Run(context.Background(), func(context.Context) error {
			clk.Advance(d) // the call takes d
			return nil
		})
	}
	c := s.Counts(time.Hour)
	fmt.Printf("%d of %d calls under 100ms\n", c.Good, c.Total)
	// Output:
	// 2 of 3 calls under 100ms
}

// Several latency thresholds are several objectives; a group records into
// all of them.
func ExampleGroup() {
	clk := clocktest.New(time.Time{})
	p99, _ := slo.New(slo.Config{Name: "api-300ms", Objective: 0.99, Latency: 300 * time.Millisecond, Clock: clk})
	p999, _ := slo.New(slo.Config{Name: "api-1s", Objective: 0.999, Latency: time.Second, Clock: clk})
	g := slo.NewGroup(p99, p999)
	for _, ms := range []int{100, 200, 500, 1500} {
		g.Record(levee.Outcome{Result: levee.Success, Latency: time.Duration(ms) * time.Millisecond})
	}
	for _, s := range g.SLOs() {
		fmt.Printf("%s: SLI %.2f\n", s.Name(), s.SLI())
	}
	// Output:
	// api-300ms: SLI 0.50
	// api-1s: SLI 0.75
}

// Alerts start and stop as events; evaluate on demand or with Start.
func ExampleSLO_Evaluate() {
	clk := clocktest.New(time.Time{})
	s, _ := slo.New(slo.Config{Name: "checkout", Clock: clk})
	s.OnEvent(func(e levee.Event) {
		fmt.Printf("%s %s: %s -> %s at %.0f× (threshold %.1f×)\n", e.Name, e.Reason, e.From, e.To, e.Value, e.Threshold)
	})
	for range 200 {
		s.Record(levee.Outcome{Result: levee.Success})
	}
	for range 10 {
		s.Record(levee.Outcome{Result: levee.Failure})
	}
	s.Evaluate()
	clk.Advance(3 * time.Hour) // the burst ages out of the page windows
	s.Evaluate()
	// Output:
	// checkout page: ok -> firing at 48× (threshold 14.4×)
	// checkout ticket: ok -> firing at 48× (threshold 3.0×)
	// checkout page: firing -> ok at 0× (threshold 14.4×)
}

// A tightener wires the fast-burn alert to a policy this package cannot
// import, here a retry budget that allows retries for 10% of calls: while
// the alert fires it allows 1%, and between alerts the ratio shrinks as the
// burn approaches the paging rate.
func ExampleTightener() {
	clk := clocktest.New(time.Time{})
	s, _ := slo.New(slo.Config{Name: "checkout", Clock: clk})

	var retryRatio atomic.Uint64 // float64 bits, read by the retry budget
	setRatio := func(r float64) { retryRatio.Store(math.Float64bits(r)) }
	setRatio(0.10)
	t, _ := slo.NewTightener(slo.TightenerConfig{
		SLOs:    []*slo.SLO{s},
		OnStart: func() { setRatio(0.01) },
		OnStop:  func() { setRatio(0.10) },
	})
	defer t.Close()
	// The retry budget reads the ratio through a func on every call.
	ratio := func() float64 { return math.Float64frombits(retryRatio.Load()) }

	for range 1000 {
		s.Record(levee.Outcome{Result: levee.Success})
	}
	for range 30 {
		s.Record(levee.Outcome{Result: levee.Failure})
	}
	s.Evaluate()
	fmt.Printf("burning: active %v, pressure %.1f, retry ratio %.2f\n", t.Active(), t.Pressure(), ratio())
	clk.Advance(7 * time.Hour)
	s.Evaluate()
	fmt.Printf("recovered: active %v, pressure %.1f, retry ratio %.2f\n", t.Active(), t.Pressure(), ratio())
	// Output:
	// burning: active true, pressure 1.0, retry ratio 0.01
	// recovered: active false, pressure 0.0, retry ratio 0.10
}

// A deployment pipeline or a config reload asks the gate first.
func ExampleGate() {
	clk := clocktest.New(time.Time{})
	s, _ := slo.New(slo.Config{Name: "checkout", Clock: clk})
	g, _ := slo.NewGate(slo.GateConfig{SLOs: []*slo.SLO{s}, MinRemaining: 0.25})
	for range 12 * 24 { // twelve days burning at 3×: 120% of the budget spent
		for range 997 {
			s.Record(levee.Outcome{Result: levee.Success})
		}
		for range 3 {
			s.Record(levee.Outcome{Result: levee.Failure})
		}
		clk.Advance(time.Hour)
	}
	v := g.Check()
	fmt.Println(v.Allowed)
	fmt.Println(v.Err())
	// Output:
	// false
	// slo: error budget exhausted: slo "checkout": -20% of the error budget remains, need more than 25%
}

// After a change, watch the SLOs and roll back if they suffer.
func ExampleSelfCheck() {
	clk := clocktest.New(time.Time{})
	s, _ := slo.New(slo.Config{Name: "checkout", Clock: clk})
	check, _ := slo.NewSelfCheck(slo.SelfCheckConfig{SLOs: []*slo.SLO{s}, Period: 5 * time.Minute})
	for range 5 { // the new configuration fails 5% of calls
		for range 95 {
			s.Record(levee.Outcome{Result: levee.Success})
		}
		for range 5 {
			s.Record(levee.Outcome{Result: levee.Failure})
		}
		clk.Advance(time.Minute)
	}
	r := check.Result()
	fmt.Println("done:", r.Done, "pass:", r.Pass)
	fmt.Println(r.Err())
	// Output:
	// done: true pass: false
	// slo: error budget exhausted: self-check failed after 5m0s: slo "checkout" burned at 50× (max 14.4×) over 500 events
}

// The same SLOs as Prometheus rules, for dashboards and alerting outside
// the process.
func ExampleWritePrometheusRules() {
	var buf bytes.Buffer
	err := slo.WritePrometheusRules(&buf, slo.Config{Name: "checkout", Objective: 0.999})
	if err != nil {
		panic(err)
	}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "- record:") || strings.HasPrefix(l, "- alert:") {
			fmt.Println(l)
		}
	}
	// Output:
	// - record: slo:sli_error:ratio_rate5m
	// - record: slo:sli_error:ratio_rate30m
	// - record: slo:sli_error:ratio_rate1h
	// - record: slo:sli_error:ratio_rate2h
	// - record: slo:sli_error:ratio_rate6h
	// - record: slo:sli_error:ratio_rate1d
	// - record: slo:sli_error:ratio_rate3d
	// - record: slo:sli_error:ratio_rate30d
	// - record: slo:objective:ratio
	// - record: slo:error_budget:ratio
	// - record: slo:time_period:days
	// - record: slo:current_burn_rate:ratio
	// - record: slo:period_burn_rate:ratio
	// - record: slo:period_error_budget_remaining:ratio
	// - alert: LeveeSLOBurnRatePage
	// - alert: LeveeSLOBurnRateTicket
}
