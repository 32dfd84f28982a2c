package proxy

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/observe"
)

// TestMetricsPerTarget checks that every target's breaker is exported from
// the start, that requests are counted per target, and that a request no
// route takes is counted with the no_route reason.
func TestMetricsPerTarget(t *testing.T) {
	a, b := echoUpstream(t, "a"), echoUpstream(t, "b")
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: app
    targets: [{url: %q}, {url: %q}]
    breaker: {consecutive_failures: 5, per_target: true}
routes: [{name: api, upstream: app, match: {path_prefix: /api/}}]
`, a.URL, b.URL)), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := observe.NewProxyMetrics(observe.MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, Options{Metrics: m, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	srv := httptest.NewServer(p)
	defer srv.Close()
	for _, path := range []string{"/api/1", "/api/2", "/api/3", "/api/4", "/elsewhere"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	text := scrape(t, m.Handler())
	for _, want := range []string{
		`levee_policy_state{name="app/` + hostPort(a) + `",policy="breaker",state="closed"} 1`,
		`levee_policy_state{name="app/` + hostPort(b) + `",policy="breaker",state="closed"} 1`,
		`levee_gateway_target_requests_total{status_class="2xx",target="` + hostPort(a) + `",upstream="app"} 2`,
		`levee_gateway_target_requests_total{status_class="2xx",target="` + hostPort(b) + `",upstream="app"} 2`,
		`levee_gateway_requests_total{reason="none",route="api",status_class="2xx",upstream="app"} 4`,
		`levee_gateway_requests_total{reason="no_route",route="",status_class="4xx",upstream=""} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", text)
	}
}

// scrape reads h as Prometheus would.
func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMetricsAddNoAllocation serves requests the gateway answers itself
// (no route: 404) with and without metrics: recording them must not
// allocate once their series exist.
func TestMetricsAddNoAllocation(t *testing.T) {
	cfg, err := config.Parse([]byte(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [{url: "127.0.0.1:1"}]}]
routes: [{name: api, upstream: app, match: {path_prefix: /api/}}]
`), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	allocs := func(m *observe.ProxyMetrics) float64 {
		p, err := New(cfg, Options{Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		req := httptest.NewRequest("GET", "/elsewhere", nil)
		req.Header.Set(RequestIDHeader, "fixed-id") // no random id to make
		serve := func() { p.ServeHTTP(httptest.NewRecorder(), req) }
		serve() // the series exist from here
		// The least of a few runs: goroutines left by other tests may
		// allocate during one.
		least := testing.AllocsPerRun(200, serve)
		for range 4 {
			least = min(least, testing.AllocsPerRun(200, serve))
		}
		return least
	}
	m, err := observe.NewProxyMetrics(observe.MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	without, with := allocs(nil), allocs(m)
	if with != without {
		t.Errorf("a 404 allocates %v times with metrics, %v without; want the same", with, without)
	}
}

// TestMetricsOverloadAndEjections checks that a route's in-flight
// shedder and adaptive limit, and an upstream's outlier detection, are
// exported: a request shed and a request over the adaptive limit count in
// levee_rejections_total, and an ejection in levee_policy_events_total.
func TestMetricsOverloadAndEjections(t *testing.T) {
	hold := make(chan struct{})
	held := make(chan struct{}, 2)
	slow := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
		held <- struct{}{}
		<-hold
	})
	broken := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	})
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - {name: slow, targets: [{url: %q}]}
  - name: broken
    targets: [{url: %q}]
    outlier_detection: {consecutive_5xx: 2}
routes:
  - {name: shedding, upstream: slow, match: {path_prefix: /shed}, policies: {shed: {max_in_flight: 1}}}
  - name: adaptive
    upstream: slow
    match: {path_prefix: /adaptive}
    policies: {concurrency: {adaptive: {algorithm: aimd, min: 1, max: 5, initial: 1}}}
  - {name: broken, upstream: broken, match: {path_prefix: /broken}}
`, slow, broken)), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := observe.NewProxyMetrics(observe.MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, Options{Metrics: m, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	srv := httptest.NewServer(p)
	defer srv.Close()

	status := func(path string, header ...string) int {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if len(header) == 2 {
			req.Header.Set(header[0], header[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, path := range []string{"/shed", "/adaptive"} {
		first := make(chan int, 1)
		go func() { first <- status(path) }() // holds the only place
		<-held
		if got := status(path, "X-Criticality", "SHEDDABLE"); got != http.StatusServiceUnavailable {
			t.Errorf("GET %s beside one in flight = %d, want 503", path, got)
		}
		hold <- struct{}{}
		if got := <-first; got != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, got)
		}
	}
	for range 3 {
		status("/broken")
	}
	text := scrape(t, m.Handler())
	for _, want := range []string{
		`levee_rejections_total{name="shedding",policy="shed",reason="shed"} 1`,
		`levee_rejections_total{name="adaptive",policy="adaptive",reason="shed"} 1`,
		`levee_policy_events_total{name="broken",policy="outlier",reason="ejected"} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", text)
	}
}

// TestMetricsCarriedPolicyCountedOnce builds a Proxy that takes over a
// route's in-flight shedder and adaptive limit from the one it replaces,
// and checks that a refusal by each is counted once while both Proxies
// exist, and still counted once the old one is retired.
func TestMetricsCarriedPolicyCountedOnce(t *testing.T) {
	hold := make(chan struct{})
	held := make(chan struct{}, 2)
	slow := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
		held <- struct{}{}
		<-hold
	})
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: slow, targets: [{url: %q}]}]
routes:
  - {name: shedding, upstream: slow, match: {path_prefix: /shed}, policies: {shed: {max_in_flight: 1}}}
  - name: adaptive
    upstream: slow
    match: {path_prefix: /adaptive}
    policies: {concurrency: {adaptive: {algorithm: aimd, min: 1, max: 5, initial: 1}}}
`, slow)), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := observe.NewProxyMetrics(observe.MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	old, err := New(cfg, Options{Metrics: m, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, Options{Metrics: m, Logger: log, Previous: old})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, c := range p.Carried() {
		if (c.Kind == "shed" || c.Kind == "concurrency") && !c.Carried {
			t.Fatalf("%s of %s not carried: %s", c.Kind, c.Name, c.Reason)
		}
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	status := func(path string) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("X-Criticality", "SHEDDABLE") // shed from one in flight
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	var text string
	for round := 1; round <= 2; round++ {
		if round == 2 {
			old.Retire(p)
		}
		for _, path := range []string{"/shed", "/adaptive"} {
			first := make(chan int, 1)
			go func() { first <- status(path) }() // holds the only place
			defer func() {
				select {
				case hold <- struct{}{}: // a second request admitted by mistake
				default:
				}
			}()
			<-held
			if got := status(path); got != http.StatusServiceUnavailable {
				t.Errorf("GET %s beside one in flight = %d, want 503", path, got)
			}
			hold <- struct{}{}
			<-first
		}
		text = scrape(t, m.Handler())
		for _, want := range []string{
			fmt.Sprintf(`levee_rejections_total{name="shedding",policy="shed",reason="shed"} %d`, round),
			fmt.Sprintf(`levee_rejections_total{name="adaptive",policy="adaptive",reason="shed"} %d`, round),
		} {
			if !strings.Contains(text, want+"\n") {
				t.Errorf("round %d: metrics lack %s", round, want)
			}
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", text)
	}
}
