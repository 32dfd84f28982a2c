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
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/gateway/config"
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
	cfg, err := config.Parse([]byte(yaml), config.Options{})
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	p, err := New(cfg, Options{Clock: clk, Previous: prev, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
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
