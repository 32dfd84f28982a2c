package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/gateway/cli"
	"github.com/levee-go/levee/slo"
)

// gateConfig is a gateway configuration with three route SLOs: checkout,
// for which Prometheus has the recording rules, search, for which it has
// only levee_slo_events_total, and orders, for which it has only the
// gateway's levee_gateway_requests_total.
const gateConfig = `
listeners:
  - name: public
    address: "127.0.0.1:0"
upstreams:
  - name: app
    targets: [{url: "http://127.0.0.1:1"}]
routes:
  - name: checkout
    upstream: app
    match: {path_prefix: /checkout}
    policies:
      slo: {objective: 90%, window: 2m}
  - name: search
    upstream: app
    match: {path_prefix: /search}
    policies:
      slo: {objective: 90%, window: 2m}
  - name: orders
    upstream: app
    match: {path_prefix: /orders}
    policies:
      slo: {objective: 90%, window: 2m}
`

// TestSLOGatePrometheus runs the gate against a real Prometheus that
// scrapes levee_slo_events_total from in-process SLOs every second and
// evaluates slo.WritePrometheusRules's rules for one of them. The gate
// passes while every event is good, then freezes once checkout's events
// all turn bad: its 5s burn rate is exactly 1/(1−0.9) = 10, its budget
// falls below 10%, and search stays ok.
func TestSLOGatePrometheus(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("prometheus is not installed (Debian package prometheus); .ci/run installs it")
		}
		t.Skip("prometheus is not installed (apt-get install prometheus); skipping the error-budget gate test")
	}
	dir := t.TempDir()

	// Real SLOs, exported as observe.SLOCollector exports them.
	mk := func(name string) *slo.SLO {
		s, err := slo.New(slo.Config{Name: name, Objective: 0.9, Window: 2 * time.Minute, Bucket: time.Second, Alerts: []slo.Alert{}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	checkout, search := mk("checkout"), mk("search")
	var orders atomic.Int64 // ticks: 19 2xx and one 5xx answer each, an error ratio of 5%
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "# TYPE %s counter\n", slo.EventsMetric)
		for _, s := range []*slo.SLO{checkout, search} {
			tot := s.Totals()
			fmt.Fprintf(w, "%s{slo=%q,good=\"true\"} %d\n", slo.EventsMetric, s.Name(), tot.Good)
			fmt.Fprintf(w, "%s{slo=%q,good=\"false\"} %d\n", slo.EventsMetric, s.Name(), tot.Bad())
		}
		n := orders.Load()
		fmt.Fprint(w, "# TYPE levee_gateway_requests_total counter\n")
		fmt.Fprintf(w, "levee_gateway_requests_total{route=\"orders\",upstream=\"app\",status_class=\"2xx\",reason=\"none\"} %d\n", 19*n)
		fmt.Fprintf(w, "levee_gateway_requests_total{route=\"orders\",upstream=\"app\",status_class=\"5xx\",reason=\"none\"} %d\n", n)
	}))
	defer exporter.Close()

	var checkoutBad atomic.Bool
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	drove := make(chan struct{})
	go func() { // 100 events a second per SLO, until the test ends
		defer close(drove)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			orders.Add(1)
			for range 5 {
				search.Record(levee.Outcome{Result: levee.Success})
				if checkoutBad.Load() {
					checkout.Record(levee.Outcome{Result: levee.Failure})
				} else {
					checkout.Record(levee.Outcome{Result: levee.Success})
				}
			}
		}
	}()
	defer func() { cancel(); <-drove }()

	// Rules for checkout only, with the fast-burn line the gate uses.
	rules, err := os.Create(filepath.Join(dir, "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	err = slo.WritePrometheusRules(rules, slo.Config{Name: "checkout", Objective: 0.9, Window: 2 * time.Minute, Bucket: time.Second,
		Alerts: []slo.Alert{{Severity: "page", Long: 20 * time.Second, Short: 5 * time.Second, Factor: 2}}})
	if cerr := rules.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	promCfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: levee
    static_configs: [{targets: [%q]}]
`, rules.Name(), strings.TrimPrefix(exporter.URL, "http://"))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(promCfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s", logs.String())
		}
	}()
	promURL := "http://" + addr
	pollGate(t, 20*time.Second, "prometheus ready", new(string), func() bool {
		resp, err := http.Get(promURL + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	cfgFile := filepath.Join(dir, "levee.yaml")
	if err := os.WriteFile(cfgFile, []byte(gateConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	gate := func() (int, string) {
		var out, errb bytes.Buffer
		code := cli.Run([]string{"slo", "gate", "-c", cfgFile, "--prometheus", promURL,
			"--min-budget", "10%", "--fast-burn", "2:20s:5s", "--explain"}, &out, &errb)
		return code, out.String() + errb.String()
	}

	// Phase 1: every event good. Once both SLOs have data the gate passes
	// with whole budgets and no burn.
	var code int
	var out string
	pollGate(t, 20*time.Second, "the gate to pass with data for both SLOs", &out, func() bool {
		code, out = gate()
		return code == cli.ExitOK && !strings.Contains(out, "no data") && strings.Contains(out, "rules (slo:sli_error:ratio_rate5s)")
	})
	for _, name := range []string{"checkout", "search"} {
		row := gateRow(t, out, name)
		if row[3] != "100.00%" || row[4] != "0.00" || row[5] != "0.00" || row[6] != "ok" {
			t.Errorf("phase 1, %s: row %q, want budget 100.00%%, burns 0.00, ok\n%s", name, row, out)
		}
	}
	if !strings.Contains(out, "SLO search figures: 5s from levee_slo_events_total") {
		t.Errorf("phase 1: search figures should come from the raw counter:\n%s", out)
	}
	checkOrders(t, "phase 1", out)

	// Phase 2: checkout's events all bad. The gate freezes for a fast burn
	// and a spent budget.
	checkoutBad.Store(true)
	pollGate(t, 30*time.Second, "the gate to freeze on both budget and fast burn", &out, func() bool {
		code, out = gate()
		if code != cli.ExitFailure || !strings.Contains(out, "SLO checkout fails: error budget") ||
			!strings.Contains(out, "SLO checkout fails: fast burn") {
			return false
		}
		// Wait until the 5s window has left the good events behind.
		return gateRow(t, out, "checkout")[4] == "10.00"
	})
	row := gateRow(t, out, "checkout")
	if row[6] != "FREEZE" {
		t.Errorf("phase 2, checkout verdict %q, want FREEZE\n%s", row[6], out)
	}
	if row[4] != "10.00" { // the 5s window holds only bad events: 1 / 0.1
		t.Errorf("phase 2, checkout 5s burn %q, want 10.00\n%s", row[4], out)
	}
	if b20, _ := strconv.ParseFloat(row[5], 64); !(b20 > 2) {
		t.Errorf("phase 2, checkout 20s burn %q, want above the factor 2\n%s", row[5], out)
	}
	m := regexp.MustCompile(`error budget (-?[0-9.]+)% left, not above --min-budget 10.00% \(error ratio ([0-9.]+)% over 2m`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("phase 2: no budget explanation:\n%s", out)
	}
	left, _ := strconv.ParseFloat(m[1], 64)
	ratio, _ := strconv.ParseFloat(m[2], 64)
	if !(left < 10) || !(ratio > 9 && ratio < 100) || math.Abs(left-(100-ratio/0.1)) > 0.05 {
		t.Errorf("phase 2: budget left %v%% and error ratio %v%%: want left = 100 − ratio/10%% < 10%%\n%s", left, ratio, out)
	}
	if row[3] != m[1]+"%" {
		t.Errorf("phase 2: table budget %q, explanation %s%%", row[3], m[1])
	}
	if srow := gateRow(t, out, "search"); srow[3] != "100.00%" || srow[6] != "ok" {
		t.Errorf("phase 2, search row %q, want 100.00%% ok\n%s", srow, out)
	}
	checkOrders(t, "phase 2", out)

	// The same SLOs from an OpenSLO file freeze the same way.
	oslo := filepath.Join(dir, "openslo.yaml")
	if err := os.WriteFile(oslo, []byte(gateOpenSLO), 0o600); err != nil {
		t.Fatal(err)
	}
	var ob, oe bytes.Buffer
	code = cli.Run([]string{"slo", "gate", "--openslo", oslo, "--prometheus", promURL,
		"--fast-burn", "2:20s:5s", "--explain"}, &ob, &oe)
	oout := ob.String() + oe.String()
	if row := gateRow(t, oout, "checkout"); code != cli.ExitFailure || row[6] != "FREEZE" || row[4] != "10.00" {
		t.Errorf("openslo: exit %d, checkout row %q: want exit 1, FREEZE, 5s burn 10.00\n%s", code, row, oout)
	}
	if row := gateRow(t, oout, "search"); row[3] != "100.00%" || row[6] != "ok" {
		t.Errorf("openslo: search row %q, want 100.00%% ok\n%s", row, oout)
	}
}

// gateOpenSLO declares checkout and search as OpenSLO v1 objects.
const gateOpenSLO = `
apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout}
spec:
  service: shop
  indicator:
    metadata: {name: checkout-ok}
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: Prometheus, spec: {query: 'sum(levee_slo_events_total{slo="checkout",good="true"})'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'sum(levee_slo_events_total{slo="checkout"})'}}}
  timeWindow: [{duration: 2m, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.9}]
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: search}
spec:
  service: shop
  indicator:
    metadata: {name: search-ok}
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: Prometheus, spec: {query: 'sum(levee_slo_events_total{slo="search",good="true"})'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'sum(levee_slo_events_total{slo="search"})'}}}
  timeWindow: [{duration: 2m, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.9}]
`

// checkOrders checks the orders route, read from the gateway's counter:
// 5% errors against 10% allowed is a burn rate of 0.5 and half the
// budget left.
func checkOrders(t *testing.T, phase, out string) {
	t.Helper()
	if row := gateRow(t, out, "orders"); row[3] != "50.00%" || row[4] != "0.50" || row[5] != "0.50" || row[6] != "ok" {
		t.Errorf("%s, orders row %q, want 50.00%%, burns 0.50, ok\n%s", phase, row, out)
	}
	if !strings.Contains(out, "SLO orders figures: 5s from levee_gateway_requests_total") {
		t.Errorf("%s: orders figures should come from levee_gateway_requests_total:\n%s", phase, out)
	}
}

// gateRow returns the table row of SLO name, split on blanks: name,
// objective, window, budget left, burn 5s, burn 20s, verdict.
func gateRow(t *testing.T, out, name string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 7 && f[0] == name {
			return f
		}
	}
	t.Fatalf("no row for %s in:\n%s", name, out)
	return nil
}

// pollGate polls cond every 500ms until it holds or d passes.
func pollGate(t *testing.T, d time.Duration, what string, last *string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last output:\n%s", d, what, *last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
