package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/server"
	"github.com/levee-go/levee/lifecycle"
)

// The gateway's Grafana dashboard and Prometheus rules, beside the
// library's.
const (
	gatewayDashboard = "../../observe/dashboards/levee-gateway.json"
	gatewayRules     = "../../observe/alerts/levee-gateway.rules.yml"
)

// TestDashboardAndRulesUseExportedMetrics runs a gateway, drives traffic
// that opens a breaker, sheds, moves an adaptive limit and ejects a
// target, scrapes its /metrics, and checks that every levee metric the
// gateway's dashboard and rules query is among the families it exported.
func TestDashboardAndRulesUseExportedMetrics(t *testing.T) {
	exported := scrapeBusyGateway(t)
	recorded := map[string]bool{}
	rules := readRules(t)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = true
			}
		}
	}
	ident := regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	check := func(where, expr string) {
		for _, name := range ident.FindAllString(expr, -1) {
			if !strings.Contains(name, "levee_") || recorded[name] {
				continue
			}
			base := name
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(name, suf); ok && exported[b] {
					base = b
				}
			}
			if !exported[base] {
				t.Errorf("%s uses %s, which the gateway does not export", where, name)
			}
		}
	}

	raw, err := os.ReadFile(gatewayDashboard)
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
		t.Fatalf("%s: %v", gatewayDashboard, err)
	}
	exprs := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
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
	if exprs < 10 {
		t.Errorf("the dashboard has %d queries, want at least 10", exprs)
	}

	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Expr == "" || (r.Alert == "") == (r.Record == "") {
				t.Errorf("rule %+v: want an expression and exactly one of alert and record", r)
			}
			check("rule "+r.Alert+r.Record, r.Expr)
			alerts[r.Alert] = true
		}
	}
	for _, a := range []string{"LeveeGatewayBreakerOpen", "LeveeGatewayHighRefusalRate", "LeveeGatewayTargetEjected",
		"LeveeGatewayErrorBudgetFastBurn", "LeveeGatewayErrorBudgetSlowBurn"} {
		if !alerts[a] {
			t.Errorf("the rules lack the alert %s", a)
		}
	}
}

// TestRulesPromtool runs promtool check rules on the gateway's rules. It
// fails when promtool is missing in CI (Debian's prometheus package
// provides it; .ci/run installs it).
func TestRulesPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not installed (Debian package prometheus)")
		}
		t.Skip("promtool is not installed (Debian package prometheus): the rules were not checked by it")
	}
	out, err := exec.Command(promtool, "check", "rules", gatewayRules).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules %s: %v\n%s", gatewayRules, err, out)
	}
	t.Logf("promtool check rules: %s", strings.TrimSpace(string(out)))
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert  string `yaml:"alert"`
			Record string `yaml:"record"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readRules(t *testing.T) ruleFile {
	t.Helper()
	raw, err := os.ReadFile(gatewayRules)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(raw, &rf); err != nil {
		t.Fatalf("%s: %v", gatewayRules, err)
	}
	return rf
}

// scrapeBusyGateway runs a gateway whose traffic opens a breaker (app),
// moves an adaptive limit (overloaded answers 503), sheds a SHEDDABLE
// request beside one in flight (held) and ejects a failing target
// (pool), then returns the metric families of its /metrics.
func scrapeBusyGateway(t *testing.T) map[string]bool {
	t.Helper()
	hold := make(chan struct{})
	held := make(chan struct{}, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	mux.HandleFunc("/busy", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond) // so that 60 answers span the limiter's 100ms sample windows
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/held", func(w http.ResponseWriter, r *http.Request) { held <- struct{}{}; <-hold })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	good := httptest.NewServer(mux)
	defer good.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	defer bad.Close()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - {name: app, targets: [{url: %[1]q}], breaker: {consecutive_failures: 2, failure_rate: 0%%, open_duration: 1m}}
  - {name: plain, targets: [{url: %[1]q}]}
  - name: pool
    targets: [{url: %[1]q}, {url: %[2]q}]
    outlier_detection: {consecutive_5xx: 2, max_ejection_percent: 50%%}
routes:
  - {name: app, upstream: app, match: {path_prefix: /fail}}
  - name: overloaded
    upstream: plain
    match: {path_prefix: /busy}
    policies: {concurrency: {adaptive: {algorithm: aimd, min: 1, max: 20, initial: 10}}}
  - {name: shed, upstream: plain, match: {path_prefix: /held}, policies: {shed: {max_in_flight: 1}}}
  - {name: pool, upstream: pool, match: {path_prefix: /pool}}
admin: {address: "127.0.0.1:0"}
`, good.URL, bad.URL)), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	addrs := make(chan [2]string, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, cfg, server.Options{
			Logger:    slog.New(addrHandler{slog.NewTextHandler(io.Discard, nil), addrs}),
			Lifecycle: lifecycle.Config{GracePeriod: 5 * time.Second, DrainDelay: -1, Signals: []os.Signal{}},
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	bound := map[string]string{}
	for len(bound) < 2 {
		select {
		case a := <-addrs:
			bound[a[0]] = a[1]
		case err := <-done:
			t.Fatalf("Run returned before listening: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("listeners not up within 10s: %v", bound)
		}
	}
	get := func(path string, header ...string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+bound["public"]+path, nil)
		if len(header) == 2 {
			req.Header.Set(header[0], header[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for range 4 {
		get("/fail") // two failures open app's breaker, which refuses the rest
	}
	for range 60 {
		get("/busy") // 503s are drops: the adaptive limit falls
	}
	for range 8 {
		get("/pool/x") // the failing target's 5xx in a row eject it
	}
	first := make(chan struct{})
	go func() { get("/held"); close(first) }()
	<-held
	get("/held", "X-Criticality", "SHEDDABLE") // shed beside the one in flight
	close(hold)
	<-first

	resp, err := http.Get("http://" + bound["admin"] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	families := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(sc.Text(), "# TYPE "); ok {
			name, _, _ = strings.Cut(name, " ")
			families[name] = true
		}
	}
	for _, want := range []string{"levee_limit", "levee_policy_events_total", "levee_rejections_total", "levee_state_transitions_total"} {
		if !families[want] {
			t.Errorf("the traffic did not make the gateway export %s", want)
		}
	}
	return families
}
