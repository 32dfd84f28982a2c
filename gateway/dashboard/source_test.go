package dashboard_test

import (
	"testing"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
)

// TestProxySource drives a real gateway through healthy traffic, then a
// failing upstream until its breaker trips, and checks what the source
// reports at each step: rates, error rate, refusals by reason, the
// breaker's state, trip and transitions, the limit's use, and the SLO's
// burn and budget.
func TestProxySource(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	g := newTestGateway(t, clk)
	src := g.source

	first := src.Snapshot(clk.Now())
	if len(first.Routes) != 1 || first.Routes[0].Name != "api" || first.Routes[0].RequestsPerSecond != 0 {
		t.Fatalf("first Snapshot routes = %+v, want api with no rate yet", first.Routes)
	}
	if b := first.Upstreams[0].Breaker; b == nil || b.State != "closed" || b.LastTrip != nil {
		t.Fatalf("first Snapshot breaker = %+v, want closed, never tripped", b)
	}

	g.send(t, 20)
	clk.Advance(2 * time.Second)
	s := src.Snapshot(clk.Now())
	r := s.Routes[0]
	if r.RequestsPerSecond != 10 || r.ErrorRate != 0 || len(r.Refusals) != 0 {
		t.Errorf("after 20 good requests in 2s: route = %+v, want 10/s, no errors, no refusals", r)
	}
	if tg := s.Upstreams[0].Targets[0]; tg.RequestsPerSecond != 10 || tg.ErrorRate != 0 {
		t.Errorf("target = %+v, want 10/s, no errors", tg)
	}
	if len(s.Limits) != 1 || s.Limits[0].Kind != "rate" || s.Limits[0].Limit != 1000 || s.Limits[0].Used != 10 {
		t.Errorf("limits = %+v, want the rate limit of 1000/s used at 10/s", s.Limits)
	}
	if len(s.SLOs) != 1 || s.SLOs[0].BudgetRemaining != 100 || s.SLOs[0].Burn[0].Rate != 0 || s.SLOs[0].TimeToExhaustion != -1 {
		t.Errorf("SLO after good traffic = %+v, want the whole budget, no burn, not burning", s.SLOs)
	}

	g.failing.Store(true)
	got := g.send(t, 40) // 20 failures beside the 20 successes trip the breaker (50%), then refusals
	if got[500] == 0 || got[503] == 0 {
		t.Fatalf("statuses while failing = %v, want the upstream's 500s then the breaker's 503s", got)
	}
	clk.Advance(time.Second)
	s = src.Snapshot(clk.Now())
	r = s.Routes[0]
	if r.RequestsPerSecond != 40 || r.ErrorRate != 100 {
		t.Errorf("while failing: route rps %v, error rate %v; want 40/s, 100%%", r.RequestsPerSecond, r.ErrorRate)
	}
	if len(r.Refusals) != 1 || r.Refusals[0].Name != "breaker_open" || r.Refusals[0].Value != float64(got[503]) {
		t.Errorf("refusals = %+v, want breaker_open at %d/s", r.Refusals, got[503])
	}
	b := s.Upstreams[0].Breaker
	if b == nil || b.State != "open" || b.RetryAfter != 29 {
		t.Fatalf("breaker = %+v, want open with 29 s left", b)
	}
	if b.LastTrip == nil || b.LastTrip.Reason != "failure_rate" || b.LastTrip.Threshold != 50 || b.LastTrip.Value < 50 || b.LastTrip.Wait != 30 {
		t.Errorf("last trip = %+v, want failure_rate ≥ 50 of 50, open for 30 s", b.LastTrip)
	}
	if len(b.Transitions) != 1 || b.Transitions[0].From != "closed" || b.Transitions[0].To != "open" || b.Transitions[0].Reason != "failure_rate" {
		t.Errorf("transitions = %+v, want closed → open for failure_rate", b.Transitions)
	}
	o := s.SLOs[0]
	if o.Burn[0].Rate <= 1 || o.BudgetRemaining >= 100 || o.TimeToExhaustion < 0 {
		t.Errorf("SLO under errors = %+v, want a burn rate above 1, budget spent and a time to exhaustion", o)
	}
	if o.Objective != 99 || o.Window != 3600 {
		t.Errorf("SLO objective %v over %v s, want 99 over 3600", o.Objective, o.Window)
	}

	// A target the metrics know beyond the configured ones (an address a
	// target name resolved to) is listed after them.
	g.metrics.Target("app", "10.9.9.9:80").Observe(200)
	clk.Advance(time.Second)
	s = src.Snapshot(clk.Now())
	if tg := s.Upstreams[0].Targets; len(tg) != 2 || tg[1].Address != "10.9.9.9:80" || tg[1].RequestsPerSecond != 1 {
		t.Errorf("targets = %+v, want the configured one, then 10.9.9.9:80 at 1/s", tg)
	}
}
