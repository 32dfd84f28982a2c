package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.yaml.in/yaml/v2"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/observe"
)

// allEvents is one event of every kind, as policies emit them.
func allEvents(ctx context.Context) []levee.Event {
	return []levee.Event{
		{Kind: levee.EventStateChange, Policy: "breaker", Name: "db", From: "closed", To: "open", Reason: "failure_rate 62.5% >= 50%", Value: 62.5, Threshold: 50},
		{Kind: levee.EventRejected, Policy: "breaker", Name: "db", Err: levee.Reject(levee.ErrOpen, 5*time.Second), Context: ctx},
		{Kind: levee.EventRetry, Policy: "retry", Name: "db", Reason: "backoff", Wait: 200 * time.Millisecond, Attempt: 1, Context: ctx},
		{Kind: levee.EventLimitChange, Policy: "concurrency", Name: "db", Value: 42, Threshold: 40},
		{Kind: levee.EventHedge, Policy: "hedge", Name: "db", Attempt: 2, Context: ctx},
		{Kind: levee.EventFallback, Policy: "fallback", Name: "db", Reason: "open", Context: ctx},
		{Kind: levee.EventPanic, Policy: "pipeline", Name: "db", Err: levee.NewPanicError("boom"), Context: ctx},
		{Kind: levee.EventInfo, Policy: "redislimit", Name: "api", Reason: "fallback:local_share"},
	}
}

func TestPrometheusListener(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := observe.NewMetrics(reg, observe.MetricsOptions{ConstLabels: prometheus.Labels{"service": "shop"}})
	if err != nil {
		t.Fatal(err)
	}
	l := m.Listener()
	for _, e := range allEvents(context.TODO()) {
		l(e)
	}
	l(levee.Event{Kind: levee.EventStateChange, Policy: "breaker", Name: "db", From: "open", To: "half_open", Reason: "open wait elapsed"})
	l(levee.Event{Kind: levee.EventRejected, Policy: "ratelimit", Name: "api", Err: levee.ErrLimited})
	l(levee.Event{Kind: levee.EventRejected, Policy: "ratelimit", Name: "api", Err: errors.New("odd")})

	want := `
# HELP levee_policy_state 1 for the state a policy is in (a breaker's closed, open, half_open…), 0 for the states it has left.
# TYPE levee_policy_state gauge
levee_policy_state{name="db",policy="breaker",service="shop",state="closed"} 0
levee_policy_state{name="db",policy="breaker",service="shop",state="half_open"} 1
levee_policy_state{name="db",policy="breaker",service="shop",state="open"} 0
# HELP levee_rejections_total Calls refused by a policy, by reason (open, limited, bulkhead_full, shed, budget_exhausted, other).
# TYPE levee_rejections_total counter
levee_rejections_total{name="api",policy="ratelimit",reason="limited",service="shop"} 1
levee_rejections_total{name="api",policy="ratelimit",reason="other",service="shop"} 1
levee_rejections_total{name="db",policy="breaker",reason="open",service="shop"} 1
# HELP levee_state_transitions_total State changes of policies, by the state left, the state entered and the reason.
# TYPE levee_state_transitions_total counter
levee_state_transitions_total{from="closed",name="db",policy="breaker",reason="failure_rate",service="shop",to="open"} 1
levee_state_transitions_total{from="open",name="db",policy="breaker",reason="open",service="shop",to="half_open"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "levee_policy_state", "levee_rejections_total", "levee_state_transitions_total"); err != nil {
		t.Error(err)
	}
	for name, want := range map[string]float64{
		"levee_retries_total": 1, "levee_hedges_total": 1, "levee_fallbacks_total": 1, "levee_panics_total": 1, "levee_policy_events_total": 1,
	} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || float64(n) != want {
			t.Errorf("%s series = %d, %v; want %v", name, n, err, want)
		}
	}
	if got := testutil.ToFloat64(mustGauge(t, reg, "levee_limit")); got != 42 {
		t.Errorf("levee_limit = %v, want 42", got)
	}
	if _, err := observe.NewMetrics(reg, observe.MetricsOptions{ConstLabels: prometheus.Labels{"service": "shop"}}); err == nil {
		t.Error("registering the same metrics twice succeeded, want an error")
	}
}

func mustGauge(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
			g.Set(mf.GetMetric()[0].GetGauge().GetValue())
			return g
		}
	}
	t.Fatalf("metric %s not found", name)
	return nil
}

func TestRequestsAndSLOGates(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := observe.NewMetrics(reg, observe.MetricsOptions{Buckets: []float64{0.1, 1}})
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktest.New(time.Time{})
	req := m.Requests("checkout", clk)
	slo := m.SLO("checkout-latency", func(o levee.Outcome) bool { return o.Result == levee.Success && o.Latency <= 300*time.Millisecond }, clk)
	p := levee.New(req, slo)
	call := func(d time.Duration, err error) {
		_ = p.Run(context.Background(), func(context.Context) error { clk.Advance(d); return err })
	}
	call(50*time.Millisecond, nil)
	call(500*time.Millisecond, nil)
	call(2*time.Second, errors.New("down"))
	call(time.Millisecond, context.Canceled)

	want := `
# HELP levee_requests_total Calls through a Requests gate, by outcome (success, failure, ignored).
# TYPE levee_requests_total counter
levee_requests_total{name="checkout",outcome="failure"} 1
levee_requests_total{name="checkout",outcome="ignored"} 1
levee_requests_total{name="checkout",outcome="success"} 2
# HELP levee_slo_events_total Events counted by an SLO, good or not.
# TYPE levee_slo_events_total counter
levee_slo_events_total{good="false",slo="checkout-latency"} 2
levee_slo_events_total{good="true",slo="checkout-latency"} 1
# HELP levee_request_duration_seconds Latency of calls through a Requests gate, by outcome.
# TYPE levee_request_duration_seconds histogram
levee_request_duration_seconds_bucket{name="checkout",outcome="failure",le="0.1"} 0
levee_request_duration_seconds_bucket{name="checkout",outcome="failure",le="1"} 0
levee_request_duration_seconds_bucket{name="checkout",outcome="failure",le="+Inf"} 1
levee_request_duration_seconds_sum{name="checkout",outcome="failure"} 2
levee_request_duration_seconds_count{name="checkout",outcome="failure"} 1
levee_request_duration_seconds_bucket{name="checkout",outcome="ignored",le="0.1"} 1
levee_request_duration_seconds_bucket{name="checkout",outcome="ignored",le="1"} 1
levee_request_duration_seconds_bucket{name="checkout",outcome="ignored",le="+Inf"} 1
levee_request_duration_seconds_sum{name="checkout",outcome="ignored"} 0.001
levee_request_duration_seconds_count{name="checkout",outcome="ignored"} 1
levee_request_duration_seconds_bucket{name="checkout",outcome="success",le="0.1"} 1
levee_request_duration_seconds_bucket{name="checkout",outcome="success",le="1"} 2
levee_request_duration_seconds_bucket{name="checkout",outcome="success",le="+Inf"} 2
levee_request_duration_seconds_sum{name="checkout",outcome="success"} 0.55
levee_request_duration_seconds_count{name="checkout",outcome="success"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "levee_requests_total", "levee_slo_events_total", "levee_request_duration_seconds"); err != nil {
		t.Error(err)
	}
	fn := func(context.Context) (int, error) { return 1, nil }
	if n := testing.AllocsPerRun(500, func() { _, _ = levee.Do(context.Background(), p, fn) }); n != 0 {
		t.Errorf("Requests+SLO gates allocate %v per call, want 0", n)
	}
}

func TestOTelListener(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	o, err := observe.NewOTel(mp)
	if err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx, span := tp.Tracer("test").Start(context.Background(), "call")
	l := o.Listener()
	for _, e := range allEvents(ctx) {
		l(e)
	}
	span.End()

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			got[m.Name] = true
		}
	}
	for _, name := range []string{"levee.state_transitions", "levee.rejections", "levee.retries", "levee.hedges", "levee.fallbacks", "levee.panics", "levee.limit"} {
		if !got[name] {
			t.Errorf("OTel metric %s not recorded; got %v", name, got)
		}
	}
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans ended, want 1", len(spans))
	}
	var names []string
	for _, ev := range spans[0].Events() {
		names = append(names, ev.Name)
	}
	sort.Strings(names)
	if want := "levee.fallback levee.hedge levee.panic levee.rejected levee.retry"; strings.Join(names, " ") != want {
		t.Errorf("span events = %v, want %s (state changes and limits belong to no call)", names, want)
	}
}

func TestSlogListener(t *testing.T) {
	var buf bytes.Buffer
	clk := clocktest.New(time.Time{})
	l := observe.Slog(slog.New(slog.NewTextHandler(&buf, nil)), observe.SlogOptions{RejectionInterval: 10 * time.Second, Clock: clk})
	rej := levee.Event{Kind: levee.EventRejected, Policy: "breaker", Name: "db", Err: levee.ErrOpen}
	for range 101 {
		l(rej)
		clk.Advance(100 * time.Millisecond)
	}
	l(levee.Event{Kind: levee.EventStateChange, Policy: "breaker", Name: "db", From: "closed", To: "open", Reason: "failure_rate", Value: 62.5, Threshold: 50})
	l(levee.Event{Kind: levee.EventPanic, Policy: "pipeline", Name: "db", Err: levee.NewPanicError("boom")})
	l(levee.Event{Kind: levee.EventRetry, Policy: "retry", Name: "db"}) // Debug: not shown at Info
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var rejLines []string
	for _, ln := range lines {
		if strings.Contains(ln, "rejecting calls") {
			rejLines = append(rejLines, ln)
		}
	}
	// 101 rejections 100ms apart at one line per 10s: the first at once, the
	// next 99 summarised with the 101st, ten seconds later.
	if len(rejLines) != 2 || !strings.Contains(rejLines[0], "rejected_since_last_line=1 ") && !strings.HasSuffix(rejLines[0], "rejected_since_last_line=1") || !strings.HasSuffix(rejLines[1], "rejected_since_last_line=100") {
		t.Errorf("rejection lines = %q", rejLines)
	}
	if !strings.Contains(out, `msg="levee: state change" policy=breaker name=db from=closed to=open reason=failure_rate value=62.5 threshold=50`) {
		t.Errorf("no state change line in %s", out)
	}
	if !strings.Contains(out, "levee: panic recovered") || !strings.Contains(out, "stack=") {
		t.Errorf("no panic line with stack in %s", out)
	}
	if strings.Contains(out, "retry") {
		t.Errorf("retry logged at Info: %s", out)
	}
}

// TestDashboardAndAlertsUseExportedMetrics checks every levee_ metric that the
// shipped Grafana dashboard and Prometheus rules query against the metrics
// this package exports, and runs promtool on the rules when it is installed.
func TestDashboardAndAlertsUseExportedMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := observe.NewMetrics(reg, observe.MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range allEvents(context.TODO()) {
		m.Listener()(e)
	}
	_ = levee.New(m.Requests("x", nil), m.SLO("s", nil, nil)).Run(context.Background(), func(context.Context) error { return nil })
	conns, err := observe.NewConnMetrics(reg, observe.ConnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, reason := range []string{"conn", "connect"} {
		conns.Listener()(levee.Event{Kind: levee.EventInfo, Policy: "http", Name: "db:5432", Reason: reason})
	}
	if _, err := conns.Dialer("db:5432", func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("refused")
	})(context.Background(), "tcp", "db:5432"); err == nil {
		t.Fatal("the failing dialer succeeded")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, mf := range mfs {
		exported[mf.GetName()] = true
	}
	metricRE := regexp.MustCompile(`levee_[a-z0-9_]+`)
	check := func(where, expr string) {
		for _, name := range metricRE.FindAllString(expr, -1) {
			base := name
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(name, suf); ok && exported[b] {
					base = b
				}
			}
			if !exported[base] {
				t.Errorf("%s uses %s, which observe does not export", where, name)
			}
		}
	}

	raw, err := os.ReadFile("dashboards/levee.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Query any `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	exprs := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			check("dashboard panel "+p.Title, tg.Expr)
			exprs++
		}
	}
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(string); ok {
			check("dashboard variable", q)
		}
	}
	if exprs < 5 {
		t.Errorf("dashboard has %d queries, want a real dashboard", exprs)
	}

	raw, err = os.ReadFile("alerts/levee.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatalf("alert rules YAML: %v", err)
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("rule %+v lacks an alert name or expression", r)
			}
			check("alert "+r.Alert, r.Expr)
			n++
		}
	}
	if n < 4 {
		t.Errorf("%d alert rules, want at least 4", n)
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not installed: alert rules checked by the YAML parser and metric names only")
		return
	}
	out, err := exec.Command(promtool, "check", "rules", "alerts/levee.rules.yml").CombinedOutput()
	if err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
	t.Logf("promtool check rules: %s", strings.TrimSpace(string(out)))
}

func TestWatch(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := observe.NewMetrics(reg, observe.MetricsOptions{ConstLabels: prometheus.Labels{"service": "shop"}})
	if err != nil {
		t.Fatal(err)
	}
	tokens := 7.5
	if err := m.Watch("retry", "payments", "budget_tokens", func() float64 { return tokens }); err != nil {
		t.Fatal(err)
	}
	if err := m.Watch("concurrency", "db", "in_flight", func() float64 { return 3 }); err != nil {
		t.Fatal(err)
	}
	if err := m.Watch("retry", "payments", "budget_tokens", func() float64 { return 0 }); err == nil {
		t.Error("watching the same quantity twice succeeded, want an error")
	}
	tokens = 4
	want := `
# HELP levee_policy_value A live quantity of a policy (budget tokens, in-flight calls, remaining quota), read at scrape time.
# TYPE levee_policy_value gauge
levee_policy_value{name="db",policy="concurrency",quantity="in_flight",service="shop"} 3
levee_policy_value{name="payments",policy="retry",quantity="budget_tokens",service="shop"} 4
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "levee_policy_value"); err != nil {
		t.Error(err)
	}
}
