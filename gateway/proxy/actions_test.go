package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/gateway/config"
)

// actionsConfig has one route of each kind the actions touch: a rate
// limit and a fixed concurrency limit on "limited", an adaptive limit on
// "adaptive", a configured fault on "faulty", and two upstreams: "a" with
// one breaker and two targets, "b" with a breaker per target.
func actionsConfig(a1, a2, b1 string) string {
	return fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: a
    targets: [{url: %q}, {url: %q}]
    breaker: {failure_rate: 50%%, min_calls: 5, window: 10s, open_duration: 5s}
  - name: b
    targets: [{url: %q}]
    breaker: {per_target: true, consecutive_failures: 2, open_duration: 5s}
routes:
  - name: limited
    match: {path_prefix: /limited}
    upstream: a
    policies:
      rate_limit: {rate: 1/s, burst: 1}
      concurrency: {max: 4}
  - name: adaptive
    match: {path_prefix: /adaptive}
    upstream: a
    policies: {concurrency: {adaptive: {min: 2, max: 50}}}
  - name: faulty
    match: {path_prefix: /faulty}
    upstream: b
    policies: {fault: {abort: {status: 503, percent: 100%%}}}
  - name: all
    upstream: a
`, a1, a2, b1)
}

// named starts an upstream that answers its name.
func named(t *testing.T, name string) string {
	return echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(name)) })
}

func TestStateReportsRoutesUpstreamsAndTargets(t *testing.T) {
	a1, a2, b1 := named(t, "a1"), named(t, "a2"), named(t, "b1")
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	p, _ := gateway(t, actionsConfig(a1, a2, b1), clk)
	s := p.State()
	if len(s.Routes) != 4 || len(s.Upstreams) != 2 {
		t.Fatalf("State() has %d routes and %d upstreams, want 4 and 2", len(s.Routes), len(s.Upstreams))
	}
	byName := map[string]RouteState{}
	for _, r := range s.Routes {
		byName[r.Name] = r
	}
	lim := byName["limited"]
	if lim.RateLimit == nil || lim.RateLimit.Rate != "1/1s" || lim.RateLimit.Burst != 1 || lim.RateLimit.Shared {
		t.Errorf("limited.rate_limit = %+v, want 1/1s burst 1, local", lim.RateLimit)
	}
	if c := lim.Concurrency; c == nil || c.Kind != "bulkhead" || c.Limit != 4 {
		t.Errorf("limited.concurrency = %+v, want bulkhead limit 4", c)
	}
	if c := byName["adaptive"].Concurrency; c == nil || c.Kind != "adaptive" || c.Limit < 2 {
		t.Errorf("adaptive.concurrency = %+v, want adaptive with a limit ≥ 2", c)
	}
	if f := byName["faulty"].Fault; f == nil || f.Runtime || f.Abort == nil || f.Abort.Status != 503 || f.Abort.Percent != 100 {
		t.Errorf("faulty.fault = %+v, want the configured abort 503 at 100%%", f)
	}
	if byName["all"].RateLimit != nil || byName["all"].Fault != nil {
		t.Errorf("route all reports policies it does not have: %+v", byName["all"])
	}
	a := s.Upstreams[0]
	if a.Name != "a" || a.Breaker == nil || a.Breaker.State != "closed" || a.Breaker.Mode != "auto" || len(a.Targets) != 2 {
		t.Fatalf("upstream a = %+v, want a closed automatic breaker and 2 targets", a)
	}
	if tg := a.Targets[0]; tg.Name != hostPortOf(a1) || !tg.Healthy || tg.Drained || tg.Ejected || tg.Breaker != nil {
		t.Errorf("target a[0] = %+v, want %s healthy, not drained or ejected, no breaker of its own", tg, hostPortOf(a1))
	}
	if b := s.Upstreams[1]; b.Breaker != nil || b.Targets[0].Breaker == nil {
		t.Errorf("upstream b = %+v, want a breaker per target and none for the upstream", b)
	}
}

func TestStateReportsTheLastTrip(t *testing.T) {
	fail := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusBadGateway) })
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	p, gw := gateway(t, actionsConfig(named(t, "a1"), named(t, "a2"), fail), clk)
	for range 2 {
		get(t, gw.URL+"/faulty/x") // aborted by the fault: the breaker never sees it
	}
	if err := p.StopFault("faulty"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		get(t, gw.URL+"/faulty/x")
	}
	br := p.State().Upstreams[1].Targets[0].Breaker
	if br.State != "open" || br.LastTrip == nil || br.LastTrip.Reason != "consecutive_failures" || br.LastTrip.Value != 2 || br.LastTrip.Threshold != 2 {
		t.Fatalf("breaker of b's target = %+v (last trip %+v), want open by consecutive_failures 2 of 2", br, br.LastTrip)
	}
	if br.RetryAfter != 5 {
		t.Errorf("retry_after_seconds = %v, want 5", br.RetryAfter)
	}
}

func TestSetBreakerMode(t *testing.T) {
	var mu sync.Mutex
	status := http.StatusOK
	up := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
	})
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	p, gw := gateway(t, actionsConfig(up, up+"/", named(t, "b1")), clk)
	state := func() string { return p.State().Upstreams[0].Breaker.State }

	if err := p.SetBreakerMode("a", "", BreakerOpen); err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, gw.URL+"/")
	checkProblem(t, resp, body, http.StatusServiceUnavailable, ReasonBreakerOpen)
	if s := p.State().Upstreams[0].Breaker; s.State != "forced_open" || s.Mode != "open" {
		t.Errorf("after open: state %s mode %s, want forced_open, open", s.State, s.Mode)
	}

	if err := p.SetBreakerMode("a", "", BreakerClosed); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	status = http.StatusInternalServerError
	mu.Unlock()
	for i := range 10 {
		if resp, _ := get(t, gw.URL+"/"); resp.StatusCode != http.StatusInternalServerError {
			t.Fatalf("held closed, request %d: status %d, want the upstream's 500", i, resp.StatusCode)
		}
	}
	if s := p.State().Upstreams[0].Breaker; s.State != "metrics_only" || s.Mode != "closed" || s.Failures != 10 {
		t.Errorf("held closed after 10 failures: %+v, want metrics_only, mode closed, 10 failures counted", s)
	}

	if err := p.SetBreakerMode("a", "", BreakerAuto); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		get(t, gw.URL+"/")
	}
	if got := state(); got != "open" {
		t.Errorf("automatic after 5 failures: %s, want open", got)
	}
	if err := p.SetBreakerMode("a", "", BreakerDisabled); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, gw.URL+"/"); resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("disabled: status %d, want the upstream's 500 (the breaker lets it through)", resp.StatusCode)
	}
	if got := state(); got != "disabled" {
		t.Errorf("state = %s, want disabled", got)
	}

	if err := p.SetBreakerMode("b", hostPortOf(p.State().Upstreams[1].Targets[0].URL), BreakerOpen); err != nil {
		t.Fatalf("per-target breaker: %v", err)
	}
	if s := p.State().Upstreams[1].Targets[0].Breaker.State; s != "forced_open" {
		t.Errorf("b's target breaker = %s, want forced_open", s)
	}
}

func TestDrainStopsNewRequests(t *testing.T) {
	a1, a2 := named(t, "a1"), named(t, "a2")
	p, gw := gateway(t, actionsConfig(a1, a2, named(t, "b1")), nil)
	if err := p.Drain("a", hostPortOf(a1), true); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, body := get(t, gw.URL+"/"); string(body) != "a2" {
			t.Fatalf("request %d with a1 drained went to %q, want a2", i, body)
		}
	}
	if !p.State().Upstreams[0].Targets[0].Drained {
		t.Errorf("State does not report a1 drained")
	}
	if err := p.Drain("a", hostPortOf(a1), false); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for range 10 {
		_, body := get(t, gw.URL+"/")
		seen[string(body)]++
	}
	if seen["a1"] == 0 {
		t.Errorf("after undrain a1 got no request: %v", seen)
	}
}

func TestSetRateLimit(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	p, gw := gateway(t, actionsConfig(named(t, "a1"), named(t, "a2"), named(t, "b1")), clk)
	get(t, gw.URL+"/limited")
	resp, body := get(t, gw.URL+"/limited")
	checkProblem(t, resp, body, http.StatusTooManyRequests, ReasonRateLimited)

	if err := p.SetRateLimit("limited", config.Rate{Count: 100, Per: time.Second}, 5); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second) // refill to the new burst
	for i := range 5 {
		if resp, _ := get(t, gw.URL+"/limited"); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d after raising the limit: %d, want 200", i, resp.StatusCode)
		}
	}
	rl := p.State().Routes[0].RateLimit
	if rl.Rate != "100/1s" || rl.Burst != 5 {
		t.Errorf("State rate_limit = %+v, want 100/1s burst 5", rl)
	}
	// The five requests spent the key's whole burst: it tops the list.
	if len(rl.TopKeys) != 1 || rl.TopKeys[0].Used < 0.99 {
		t.Errorf("State rate_limit top_keys = %+v, want one key with its burst spent", rl.TopKeys)
	}
	clk.Advance(time.Second)
	if rl := p.State().Routes[0].RateLimit; len(rl.TopKeys) != 0 {
		t.Errorf("top_keys once every bucket is full again = %+v, want none", rl.TopKeys)
	}
}

func TestSetConcurrency(t *testing.T) {
	p, _ := gateway(t, actionsConfig(named(t, "a1"), named(t, "a2"), named(t, "b1")), nil)
	if err := p.SetConcurrency("limited", 9); err != nil {
		t.Fatal(err)
	}
	if c := p.State().Routes[0].Concurrency; c.Limit != 9 {
		t.Errorf("limit after SetConcurrency(9) = %d", c.Limit)
	}
}

func TestSetAndStopFault(t *testing.T) {
	p, gw := gateway(t, actionsConfig(named(t, "a1"), named(t, "a2"), named(t, "b1")), nil)
	err := p.SetFault("all", config.Fault{Abort: &config.FaultAbort{Status: 418, Percent: 100}, Header: "X-Chaos"})
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, gw.URL+"/"); resp.StatusCode != http.StatusOK {
		t.Errorf("without the header: %d, want 200", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, gw.URL+"/", nil)
	req.Header.Set("X-Chaos", "1")
	resp, body := do(t, req)
	checkProblem(t, resp, body, http.StatusTeapot, ReasonFaultAbort)
	if f := p.State().Routes[3].Fault; f == nil || !f.Runtime || f.Header != "X-Chaos" {
		t.Errorf("State fault = %+v, want the run-time one with its header", f)
	}
	if err := p.StopFault("all"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := do(t, req.Clone(req.Context())); resp.StatusCode != http.StatusOK {
		t.Errorf("after StopFault: %d, want 200", resp.StatusCode)
	}
}

func TestActionsRefuseBadInput(t *testing.T) {
	p, _ := gateway(t, actionsConfig(named(t, "a1"), named(t, "a2"), named(t, "b1")), nil)
	sec := time.Second
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"unknown upstream", p.SetBreakerMode("zz", "", BreakerOpen), ErrNotFound},
		{"unknown target", p.Drain("a", "10.0.0.1:1", true), ErrNotFound},
		{"bad mode", p.SetBreakerMode("a", "", "sideways"), ErrInvalid},
		{"target of shared breaker", p.SetBreakerMode("a", hostPortOf(p.State().Upstreams[0].Targets[0].URL), BreakerOpen), ErrUnsupported},
		{"unknown route", p.SetRateLimit("zz", config.Rate{Count: 1, Per: sec}, 0), ErrNotFound},
		{"route without limit", p.SetRateLimit("all", config.Rate{Count: 1, Per: sec}, 0), ErrUnsupported},
		{"zero rate", p.SetRateLimit("limited", config.Rate{Count: 0, Per: sec}, 0), ErrInvalid},
		{"negative burst", p.SetRateLimit("limited", config.Rate{Count: 1, Per: sec}, -1), ErrInvalid},
		{"zero concurrency", p.SetConcurrency("limited", 0), ErrInvalid},
		{"adaptive concurrency", p.SetConcurrency("adaptive", 3), ErrUnsupported},
		{"no concurrency", p.SetConcurrency("all", 3), ErrUnsupported},
		{"empty fault", p.SetFault("all", config.Fault{}), ErrInvalid},
		{"abort 200", p.SetFault("all", config.Fault{Abort: &config.FaultAbort{Status: 200, Percent: 1}}), ErrInvalid},
		{"percent 101", p.SetFault("all", config.Fault{Abort: &config.FaultAbort{Status: 500, Percent: 101}}), ErrInvalid},
		{"delay past timeout", p.SetFault("all", config.Fault{Delay: &config.FaultDelay{Duration: time.Hour, Percent: 1}}), ErrInvalid},
		{"bad header", p.SetFault("all", config.Fault{Abort: &config.FaultAbort{Status: 500, Percent: 1}, Header: "a b"}), ErrInvalid},
		{"stop unknown", p.StopFault("zz"), ErrNotFound},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: error %v, want %v", tt.name, tt.err, tt.want)
		}
	}
}

// TestActionsUnderTraffic changes every policy while requests flow, for
// the race detector: a bounded number of requests from four clients, and
// actions and snapshots between them.
func TestActionsUnderTraffic(t *testing.T) {
	a1, a2 := named(t, "a1"), named(t, "a2")
	p, gw := gateway(t, actionsConfig(a1, a2, named(t, "b1")), nil)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				for _, path := range []string{"/", "/limited", "/faulty"} {
					resp, err := http.Get(gw.URL + path)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
				}
			}
		})
	}
	modes := []BreakerMode{BreakerOpen, BreakerClosed, BreakerDisabled, BreakerAuto}
	for i := range 100 {
		_ = p.SetBreakerMode("a", "", modes[i%len(modes)])
		_ = p.Drain("a", hostPortOf(a1), i%2 == 0)
		_ = p.SetRateLimit("limited", config.Rate{Count: int64(1 + i), Per: time.Second}, i%5)
		_ = p.SetConcurrency("limited", 1+i%4)
		if i%3 == 0 {
			_ = p.StopFault("all")
		} else {
			_ = p.SetFault("all", config.Fault{Abort: &config.FaultAbort{Status: 503, Percent: config.Percent(i % 100)}})
		}
		if s := p.State(); len(s.Routes) != 4 {
			t.Fatalf("State has %d routes", len(s.Routes))
		}
	}
	wg.Wait()
}

func TestStateReportsSLOs(t *testing.T) {
	up := named(t, "a")
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	p, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: a, targets: [{url: %q}]}]
routes:
  - name: broken
    match: {path_prefix: /broken}
    upstream: a
    policies: {fault: {abort: {status: 503, percent: 100%%}}, slo: {objective: 99%%, window: 1h}}
  - name: all
    upstream: a
`, up), clk)
	for range 4 {
		get(t, gw.URL+"/broken")
	}
	get(t, gw.URL+"/")
	s := p.State()
	o := s.Routes[0].SLO
	if o == nil || o.Objective != 0.99 || o.Window != 3600 || o.Total != 4 || o.Good != 0 || o.SLI != 0 {
		t.Fatalf("route SLO = %+v, want 99%% over 1h with 4 bad of 4", o)
	}
	// 100% errors against a 1% allowance burns 100 times too fast.
	if br := o.BurnRates["5m"]; br < 99 || br > 101 {
		t.Errorf("burn rate over 5m = %v, want 100", br)
	}
	if o.BudgetRemaining >= 0 {
		t.Errorf("budget remaining = %v, want overspent (< 0)", o.BudgetRemaining)
	}
	if s.Routes[1].SLO != nil {
		t.Errorf("route all reports an SLO it does not have")
	}
	if g := s.SLO; g == nil || g.Name != GatewaySLO || g.Total != 5 || g.Good != 1 {
		t.Errorf("gateway SLO = %+v, want 1 good of 5", g)
	}
}
