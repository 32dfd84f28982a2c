package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/observe"
)

const carryYAML = `
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: app
    targets: [{url: "%s"}]
    breaker: {consecutive_failures: 2, failure_rate: 0%%, open_duration: 1h}
routes:
  - name: api
    upstream: app
    policies:
      rate_limit: {rate: "%s", burst: 3}
      concurrency: {max: 4}
      slo: {objective: 99%%, window: 1h}
`

func buildCarry(t *testing.T, yaml string, prev *Proxy, clk *clocktest.Fake) (*Proxy, *httptest.Server) {
	t.Helper()
	var c clock.Clock // nil means the real clock; a nil *Fake must not become a non-nil Clock
	if clk != nil {
		c = clk
	}
	cfg, err := config.Parse([]byte(yaml), config.Options{})
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	p, err := New(cfg, Options{Clock: c, Previous: prev, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h, _ := p.Handler("public")
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); p.Close() })
	return p, srv
}

func carriedOf(p *Proxy) map[string]Carried {
	m := map[string]Carried{}
	for _, c := range p.Carried() {
		m[c.Kind+" "+c.Name] = c
	}
	return m
}

// TestCarryUnchanged: a Proxy built with Previous over the same
// configuration keeps the tripped breaker, the spent tokens and the
// objective's counts; one whose rate limit changed gets a fresh limiter
// but keeps the rest.
func TestCarryUnchanged(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	failing := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	yaml := fmt.Sprintf(carryYAML, failing, "1/h")
	a, srvA := buildCarry(t, yaml, nil, clk)
	for range 3 { // two failures trip the breaker; the third is refused; all spend tokens
		resp, _ := get(t, srvA.URL+"/")
		resp.Body.Close()
	}
	if got := a.Breaker("app").State(); got != breaker.Open {
		t.Fatalf("breaker after two failures = %v, want open", got)
	}
	if a.Carried() != nil {
		t.Fatalf("Carried() without Previous = %v, want nil", a.Carried())
	}

	b, srvB := buildCarry(t, yaml, a, clk)
	if b.Breaker("app") != a.Breaker("app") || b.Breaker("app").State() != breaker.Open {
		t.Fatalf("breaker not carried: %p vs %p", b.Breaker("app"), a.Breaker("app"))
	}
	if got := b.RouteSLO("api").Counts(0).Total; got != 3 {
		t.Fatalf("carried objective counts %d events, want 3", got)
	}
	// The carried limiter has spent all 3 tokens of its burst: the next
	// request is limited, not admitted.
	resp, body := get(t, srvB.URL+"/")
	checkProblem(t, resp, body, http.StatusTooManyRequests, ReasonRateLimited)
	for _, k := range []string{"breaker app", "rate_limit api", "concurrency api", "slo api", "slo gateway"} {
		if c, ok := carriedOf(b)[k]; !ok || !c.Carried || c.Reason != "unchanged" {
			t.Errorf("Carried()[%s] = %+v, want carried, unchanged", k, c)
		}
	}

	c, srvC := buildCarry(t, fmt.Sprintf(carryYAML, failing, "2/h"), b, clk)
	if got := carriedOf(c)["rate_limit api"]; got.Carried || got.Reason != "changed" {
		t.Fatalf("changed rate limit: %+v, want reset, changed", got)
	}
	if c.Breaker("app") != a.Breaker("app") {
		t.Fatalf("breaker not carried across a rate-limit change")
	}
	// A fresh limiter admits; the open breaker then refuses.
	resp, body = get(t, srvC.URL+"/")
	checkProblem(t, resp, body, http.StatusServiceUnavailable, ReasonBreakerOpen)
}

// TestCarryReconfiguresChangedBreaker: a breaker whose settings change
// is kept with its state and takes the new settings at Commit, not
// before: until the swap the running proxy's breaker keeps its former
// ones.
func TestCarryReconfiguresChangedBreaker(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	failing := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	doc := fmt.Sprintf(carryYAML, failing, "100/s")
	a, srvA := buildCarry(t, doc, nil, clk)
	br := a.Breaker("app")
	changed := strings.Replace(doc, "consecutive_failures: 2", "consecutive_failures: 7", 1)
	b, srvB := buildCarry(t, changed, a, clk)
	if b.Breaker("app") != br {
		t.Fatalf("a breaker whose settings changed was rebuilt, want it kept")
	}
	if got := carriedOf(b)["breaker app"]; !got.Carried || got.Reason != "reconfigured" {
		t.Errorf("Carried()[breaker app] = %+v, want carried, reconfigured", got)
	}
	fail := func(url string, n int) {
		for range n {
			resp, _ := get(t, url+"/")
			resp.Body.Close()
		}
	}
	fail(srvA.URL, 2) // before Commit: the former settings trip it after 2
	if br.State() != breaker.Open {
		t.Fatalf("before Commit, after 2 failures: breaker %v, want open (its former settings)", br.State())
	}
	if err := b.Commit(); err != nil {
		t.Fatalf("Commit() = %v", err)
	}
	if br.State() != breaker.Open {
		t.Fatalf("after Commit: breaker %v, want still open (its state is kept)", br.State())
	}
	br.Reset()
	fail(srvB.URL, 3) // after Commit it takes 7
	if br.State() != breaker.Closed {
		t.Errorf("after Commit, 3 failures: breaker %v, want closed (7 failures trip it now)", br.State())
	}
}

// TestRouteSLORecords: every answered request counts in the route's
// objective and the gateway's; 5xx answers are bad, and so are answers
// slower than the objective's latency.
func TestRouteSLORecords(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	up := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	_, srv := buildCarry(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [{url: "%s"}]}]
routes:
  - {name: api, upstream: app, policies: {slo: {objective: 99.9%%, window: 1h}}}
  - {name: other, upstream: app, priority: 1, match: {path_prefix: /other}}
`, up), nil, clk)
	p := srv.Config.Handler.(*listenerHandler).p
	for _, path := range []string{"/", "/", "/fail", "/other"} {
		resp, _ := get(t, srv.URL+path)
		resp.Body.Close()
	}
	if got := p.RouteSLO("api").Counts(0); got.Total != 3 || got.Bad() != 1 {
		t.Fatalf("route objective counts %+v, want 3 events, 1 bad", got)
	}
	slos := p.SLOs()
	if len(slos) != 2 || slos[1].Name() != GatewaySLO || slos[1].Counts(0).Total != 4 {
		t.Fatalf("SLOs() = %v, want the route's then the gateway's with 4 events", slos)
	}
	if p.RouteSLO("other") != nil {
		t.Fatalf("RouteSLO of a route without slo is not nil")
	}
}

// TestWarm: Warm passes once every new target answers its health check,
// and fails, naming the target, when one never does; targets carried from
// the previous Proxy are not probed again.
func TestWarm(t *testing.T) {
	healthy := echoUpstream(t, "ok")
	sick := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	yaml := func(targets ...string) string {
		var ts []string
		for _, tg := range targets {
			ts = append(ts, fmt.Sprintf("{url: %q}", tg))
		}
		return fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: app
    targets: [%s]
    health_check: {path: /healthz, interval: 50ms, timeout: 40ms}
routes: [{name: api, upstream: app}]
`, strings.Join(ts, ", "))
	}
	build := func(y string, prev *Proxy) *Proxy {
		cfg, err := config.Parse([]byte(y), config.Options{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := New(cfg, Options{Previous: prev, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	a := build(yaml(healthy.URL), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Warm(ctx); err != nil {
		t.Fatalf("Warm(healthy target) = %v", err)
	}
	b := build(yaml(healthy.URL, sick), a)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	err := b.Warm(ctx2)
	if err == nil || !strings.Contains(err.Error(), hostPortOf(sick)) || strings.Contains(err.Error(), hostPort(healthy)) {
		t.Fatalf("Warm(sick new target) = %v, want an error naming only %s", err, sick)
	}
	if got := carriedOf(b)["health app/"+hostPort(healthy)]; !got.Carried {
		t.Fatalf("health of the kept target: %+v, want carried", got)
	}
}

// TestCarryPerTarget: per-target breakers are kept by target URL; a
// target added by the reload gets a new breaker, and a changed breaker
// setting resets them all.
func TestCarryPerTarget(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	one, two := echoUpstream(t, "one"), echoUpstream(t, "two")
	yaml := func(open string, targets ...string) string {
		var ts []string
		for _, tg := range targets {
			ts = append(ts, fmt.Sprintf("{url: %q}", tg))
		}
		return fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: app
    targets: [%s]
    breaker: {consecutive_failures: 2, per_target: true, open_duration: %s}
routes: [{name: api, upstream: app}]
`, strings.Join(ts, ", "), open)
	}
	a, _ := buildCarry(t, yaml("1h", one.URL), nil, clk)
	b, _ := buildCarry(t, yaml("1h", one.URL, two.URL), a, clk)
	got := carriedOf(b)
	if c := got["breaker app/"+hostPort(one)]; !c.Carried {
		t.Errorf("breaker of the kept target: %+v, want carried", c)
	}
	if c := got["breaker app/"+hostPort(two)]; c.Carried || c.Reason != "new" {
		t.Errorf("breaker of the new target: %+v, want reset, new", c)
	}
	if b.upstreams[0].pool().targets[0].breaker != a.upstreams[0].pool().targets[0].breaker {
		t.Errorf("the kept target's breaker is a new object")
	}
	c, _ := buildCarry(t, yaml("2h", one.URL, two.URL), b, clk)
	for k, v := range carriedOf(c) {
		if strings.HasPrefix(k, "breaker ") && (v.Carried || v.Reason != "changed") {
			t.Errorf("%s after a breaker change: %+v, want reset, changed", k, v)
		}
	}
}

// TestRetireHandsOverMetrics: a breaker kept across a reload is counted
// once in the metrics — not twice while both runtimes live, and still
// after the old one is retired.
func TestRetireHandsOverMetrics(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	m, err := observe.NewProxyMetrics(observe.MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	failing := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	yaml := fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [{url: %q}], breaker: {consecutive_failures: 2, open_duration: 1h}}]
routes: [{name: api, upstream: app}]
`, failing)
	build := func(prev *Proxy) *Proxy {
		cfg, err := config.Parse([]byte(yaml), config.Options{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := New(cfg, Options{Clock: clk, Previous: prev, Metrics: m, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := build(nil)
	b := build(a)
	a.Retire(b)
	defer b.Close()
	srv := httptest.NewServer(b)
	defer srv.Close()
	for range 2 {
		resp, _ := get(t, srv.URL+"/")
		resp.Body.Close()
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	want := `levee_state_transitions_total{from="closed",name="app",policy="breaker",reason="consecutive_failures",to="open"} 1`
	if body := rec.Body.String(); !strings.Contains(body, want) {
		var lines []string
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, "levee_state_transitions_total") {
				lines = append(lines, l)
			}
		}
		t.Fatalf("metrics lack %s; transitions: %q", want, lines)
	}
}

// TestGatewayLatencySLO: with reload.self_check.latency, answers slower
// than it are bad in the gateway's latency objective, not in its
// availability one.
func TestGatewayLatencySLO(t *testing.T) {
	up := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(60 * time.Millisecond)
		}
	})
	_, srv := buildCarry(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [{url: "%s"}]}]
routes: [{name: api, upstream: app}]
reload: {self_check: {latency: 30ms}}
`, up), nil, nil)
	p := srv.Config.Handler.(*listenerHandler).p
	for _, path := range []string{"/", "/slow", "/"} {
		resp, _ := get(t, srv.URL+path)
		resp.Body.Close()
	}
	slos := p.SLOs()
	if len(slos) != 2 || slos[1].Name() != GatewayLatencySLO {
		t.Fatalf("SLOs() = %d objectives, want the gateway's two", len(slos))
	}
	if avail, lat := slos[0].Counts(0), slos[1].Counts(0); avail.Bad() != 0 || lat.Total != 3 || lat.Bad() != 1 {
		t.Fatalf("availability %+v, latency %+v; want 0 bad of 3, 1 slow of 3", avail, lat)
	}
}
