package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/observe/openslo"
	"github.com/levee-go/levee/slo"
)

const sloUsage = `Usage: levee slo gate (-c FILE | --openslo FILE) --prometheus URL [flags]

Reads the SLOs of a gateway configuration (the slo of each route, named
after the route) or of an OpenSLO file, asks Prometheus for each one's
remaining error budget over its window and its burn rates over the
fast-burn windows, and prints a table. Figures come from the recording
rules slo.WritePrometheusRules writes (slo:sli_error:ratio_rate<W>) when
Prometheus has them, else from the counter observe exports,
levee_slo_events_total{slo, good}, else, for a gateway route, from
levee_gateway_requests_total{route, status_class} (5xx is bad).

The exit status is 0 when every budget is above --min-budget and no
fast-burn line fires (both its windows burn faster than its factor), 1
when one is not (deploy freeze) or Prometheus cannot be asked, and 2 for
bad input. An SLO without events in its window passes as "no data".

Flags:
`

// defaultFastBurn are the "page" lines of [slo.DefaultAlerts]: 2% of a
// 30-day budget burnt in an hour, or 5% in six hours.
const defaultFastBurn = "14.4:1h:5m,6:6h:30m"

// sloCmd runs the "levee slo" commands.
func sloCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "gate" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return sloGate([]string{"-h"}, stdout, stdout)
		}
		fmt.Fprint(stderr, "levee slo: unknown or missing subcommand; the only one is \"gate\"\n\n")
		sloGate([]string{"-h"}, stderr, stderr)
		return ExitInvalid
	}
	return sloGate(args[1:], stdout, stderr)
}

// burnLine is one fast-burn condition: both windows burn faster than
// Factor.
type burnLine struct {
	Factor      float64
	Long, Short time.Duration
}

// gateSLO is one objective to check.
type gateSLO struct {
	Name      string
	Objective float64
	Window    time.Duration
	// Route is set for a gateway route's SLO, whose figures may also come
	// from levee_gateway_requests_total.
	Route bool
}

// gateResult holds the figures of one SLO.
type gateResult struct {
	SLO    gateSLO
	NoData bool
	// Remaining is the share of the budget left over the window: 1 −
	// error ratio / (1 − objective); negative when overspent.
	Remaining float64
	// ErrorRatio is over the SLO's window.
	ErrorRatio float64
	// Burn is the burn rate per fast-burn window; NaN when the window has
	// no events.
	Burn map[time.Duration]float64
	// Source says where each window's ratio came from ("rules" or
	// "levee_slo_events_total").
	Source map[time.Duration]string
	// Reasons are why the SLO fails; empty when it passes.
	Reasons []string
}

func sloGate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("slo gate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("c", "", "gateway configuration `FILE` whose routes' slo sections are checked")
	osloFile := fs.String("openslo", "", "OpenSLO v1 `FILE` whose SLOs are checked")
	promURL := fs.String("prometheus", "", "base `URL` of the Prometheus HTTP API, such as http://prometheus:9090")
	minBudget := fs.String("min-budget", "10%", "smallest share of error budget left that lets a deploy through")
	fastBurn := fs.String("fast-burn", defaultFastBurn, "comma-separated FACTOR:LONG:SHORT lines; one fires when both windows burn faster than FACTOR")
	explain := fs.Bool("explain", false, "say which SLO fails and why, with the figures")
	timeout := fs.Duration("timeout", 10*time.Second, "bound on each Prometheus query")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), sloUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitInvalid
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "levee slo gate: "+format+"\n", a...)
		return ExitInvalid
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	if (*cfgFile == "") == (*osloFile == "") {
		return bad("name exactly one of -c FILE and --openslo FILE")
	}
	if *promURL == "" {
		return bad("--prometheus URL is required")
	}
	base, err := url.Parse(*promURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return bad("--prometheus %q: want an http or https URL", *promURL)
	}
	floor, err := parsePercent(*minBudget)
	if err != nil {
		return bad("--min-budget %q: %v", *minBudget, err)
	}
	lines, err := parseBurnLines(*fastBurn)
	if err != nil {
		return bad("--fast-burn %q: %v", *fastBurn, err)
	}
	if *timeout <= 0 {
		return bad("--timeout %v: must be positive", *timeout)
	}

	var slos []gateSLO
	if *cfgFile != "" {
		slos, err = slosFromConfig(*cfgFile)
		if err != nil {
			reportLoad(stderr, *cfgFile, err)
			return ExitInvalid
		}
	} else {
		slos, err = slosFromOpenSLO(*osloFile)
		if err != nil {
			return bad("%s: %v", *osloFile, err)
		}
	}
	if len(slos) == 0 {
		return bad("no SLOs found in %s", *cfgFile+*osloFile)
	}

	q := &promClient{base: strings.TrimSuffix(base.String(), "/"), client: &http.Client{Timeout: *timeout}}
	var windows []time.Duration
	for _, l := range lines {
		windows = append(windows, l.Long, l.Short)
	}
	slices.Sort(windows)
	windows = slices.Compact(windows)

	results := make([]gateResult, 0, len(slos))
	for _, s := range slos {
		r, err := evalSLO(q, s, windows, lines, floor)
		if err != nil {
			fmt.Fprintf(stderr, "levee slo gate: SLO %q: %v\n", s.Name, err)
			return ExitFailure
		}
		results = append(results, r)
	}
	if err := printGate(stdout, results, windows); err != nil {
		return ExitFailure
	}
	status := ExitOK
	for _, r := range results {
		if len(r.Reasons) > 0 {
			status = ExitFailure
		}
	}
	if *explain {
		explainGate(stdout, results, floor)
	}
	return status
}

// evalSLO queries the figures of s and decides its verdict.
func evalSLO(q *promClient, s gateSLO, windows []time.Duration, lines []burnLine, floor float64) (gateResult, error) {
	r := gateResult{SLO: s, Burn: map[time.Duration]float64{}, Source: map[time.Duration]string{}}
	allowed := 1 - s.Objective
	ratio, src, ok, err := q.errorRatio(s, s.Window)
	if err != nil {
		return r, err
	}
	r.Source[s.Window] = src
	if !ok {
		r.NoData = true
		r.Remaining = math.NaN()
		r.ErrorRatio = math.NaN()
	} else {
		r.ErrorRatio = ratio
		r.Remaining = 1 - ratio/allowed
	}
	for _, w := range windows {
		ratio, src, ok, err := q.errorRatio(s, w)
		if err != nil {
			return r, err
		}
		r.Source[w] = src
		r.Burn[w] = math.NaN()
		if ok {
			r.Burn[w] = ratio / allowed
		}
	}
	if !r.NoData && r.Remaining <= floor {
		r.Reasons = append(r.Reasons, fmt.Sprintf(
			"error budget %s left, not above --min-budget %s (error ratio %s over %s, objective %s allows %s)",
			pct(r.Remaining), pct(floor), pct(r.ErrorRatio), promDuration(s.Window), pct(s.Objective), pct(allowed)))
	}
	for _, l := range lines {
		lb, sb := r.Burn[l.Long], r.Burn[l.Short]
		if lb > l.Factor && sb > l.Factor {
			r.Reasons = append(r.Reasons, fmt.Sprintf(
				"fast burn: burn rate %s over %s and %s over %s, both above %s",
				num(lb), promDuration(l.Long), num(sb), promDuration(l.Short), num(l.Factor)))
		}
	}
	return r, nil
}

func printGate(w io.Writer, results []gateResult, windows []time.Duration) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "SLO\tOBJECTIVE\tWINDOW\tBUDGET LEFT")
	for _, d := range windows {
		fmt.Fprintf(tw, "\tBURN %s", promDuration(d))
	}
	fmt.Fprintln(tw, "\tVERDICT")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s", r.SLO.Name, pct(r.SLO.Objective), promDuration(r.SLO.Window), pct(r.Remaining))
		for _, d := range windows {
			fmt.Fprintf(tw, "\t%s", num(r.Burn[d]))
		}
		fmt.Fprintf(tw, "\t%s\n", verdict(r))
	}
	return tw.Flush()
}

func verdict(r gateResult) string {
	switch {
	case len(r.Reasons) > 0:
		return "FREEZE"
	case r.NoData:
		return "no data"
	default:
		return "ok"
	}
}

func explainGate(w io.Writer, results []gateResult, floor float64) {
	failed := false
	for _, r := range results {
		for _, why := range r.Reasons {
			failed = true
			fmt.Fprintf(w, "SLO %s fails: %s\n", r.SLO.Name, why)
		}
	}
	if !failed {
		fmt.Fprintf(w, "every SLO passes: budgets above %s, no fast burn\n", pct(floor))
	}
	for _, r := range results {
		var srcs []string
		for _, d := range slices.Sorted(mapKeys(r.Source)) {
			srcs = append(srcs, promDuration(d)+" from "+r.Source[d])
		}
		fmt.Fprintf(w, "SLO %s figures: %s\n", r.SLO.Name, strings.Join(srcs, ", "))
	}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// pct formats a fraction as a percentage; "-" for NaN.
func pct(f float64) string {
	if math.IsNaN(f) {
		return "-"
	}
	return strconv.FormatFloat(f*100, 'f', 2, 64) + "%"
}

// num formats a burn rate; "-" for NaN.
func num(f float64) string {
	if math.IsNaN(f) {
		return "-"
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

// slosFromConfig returns the slo of each route of a gateway configuration,
// named after the route as the gateway names it. Secrets are not needed.
func slosFromConfig(file string) ([]gateSLO, error) {
	cfg, err := config.Load(file, config.Options{LookupEnv: func(string) (string, bool) { return "", true }})
	if err != nil {
		return nil, err
	}
	var out []gateSLO
	for _, r := range cfg.Routes {
		if r.Policies.SLO == nil {
			continue
		}
		out = append(out, gateSLO{Name: r.Name, Objective: r.Policies.SLO.Objective.Fraction(), Window: r.Policies.SLO.Window, Route: true})
	}
	return out, nil
}

// slosFromOpenSLO returns the objectives of an OpenSLO file, with the
// defaults [slo.New] gives to what the file leaves out.
func slosFromOpenSLO(file string) ([]gateSLO, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfgs, err := openslo.Decode(f)
	if err != nil {
		return nil, err
	}
	out := make([]gateSLO, 0, len(cfgs))
	for _, c := range cfgs {
		if c.Objective == 0 {
			c.Objective = slo.DefaultObjective
		}
		if c.Window == 0 {
			c.Window = slo.DefaultWindow
		}
		out = append(out, gateSLO{Name: c.Name, Objective: c.Objective, Window: c.Window})
	}
	return out, nil
}

// parsePercent reads "10%", "10" (percent) or "0.5%" as a fraction.
func parsePercent(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 100 {
		return 0, errors.New("want a percentage from 0% to 100%, such as 10%")
	}
	return v / 100, nil
}

// parseBurnLines reads comma-separated FACTOR:LONG:SHORT lines; durations
// take Go's units plus d for days.
func parseBurnLines(s string) ([]burnLine, error) {
	var out []burnLine
	for i, part := range strings.Split(s, ",") {
		f := strings.Split(strings.TrimSpace(part), ":")
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d %q: want FACTOR:LONG:SHORT, such as 14.4:1h:5m", i+1, part)
		}
		factor, err := strconv.ParseFloat(f[0], 64)
		if err != nil || !(factor > 0) || math.IsInf(factor, 0) {
			return nil, fmt.Errorf("line %d: factor %q must be a positive number", i+1, f[0])
		}
		long, err := parseDays(f[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: long window: %v", i+1, err)
		}
		short, err := parseDays(f[2])
		if err != nil {
			return nil, fmt.Errorf("line %d: short window: %v", i+1, err)
		}
		if short > long {
			return nil, fmt.Errorf("line %d: short window %v is longer than long window %v", i+1, f[2], f[1])
		}
		out = append(out, burnLine{Factor: factor, Long: long, Short: short})
	}
	return out, nil
}

// parseDays is [time.ParseDuration] plus whole days ("28d"); the result is
// positive and a whole number of milliseconds, as PromQL ranges need.
func parseDays(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int64
		days, err = strconv.ParseInt(n, 10, 64)
		d = time.Duration(days) * 24 * time.Hour
		if err == nil && (days <= 0 || days > 10000) {
			err = errors.New("out of range")
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 || d%time.Millisecond != 0 {
		return 0, fmt.Errorf("%q is not a positive duration in whole milliseconds (such as 5m, 1h, 28d)", s)
	}
	return d, nil
}

// promDuration formats d in PromQL's syntax with the largest unit that
// divides it, as slo.WritePrometheusRules names its recording rules.
func promDuration(d time.Duration) string {
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}} {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
}

// promClient asks Prometheus's HTTP API for instant queries.
type promClient struct {
	base   string
	client *http.Client
}

// errorRatio returns the share of bad events of s over window d: from the
// recording rule slo.WritePrometheusRules writes when Prometheus has it,
// else from levee_slo_events_total, else, for a gateway route, from
// levee_gateway_requests_total (5xx answers are bad, as in the gateway's
// own SLO; a latency objective is not visible there). ok is false when the
// window holds no events.
func (q *promClient) errorRatio(s gateSLO, d time.Duration) (ratio float64, source string, ok bool, err error) {
	sel := "slo=" + strconv.Quote(s.Name)
	pd := promDuration(d)
	rule := "slo:sli_error:ratio_rate" + pd
	tries := []struct{ expr, source string }{
		{rule + "{" + sel + "}", "rules (" + rule + ")"},
		{fmt.Sprintf("(sum(rate(%s{%s,good=\"false\"}[%s])) or vector(0)) / sum(rate(%s{%s}[%s]))",
			slo.EventsMetric, sel, pd, slo.EventsMetric, sel, pd), slo.EventsMetric},
	}
	if s.Route {
		rsel := "route=" + strconv.Quote(s.Name)
		tries = append(tries, struct{ expr, source string }{
			fmt.Sprintf("(sum(rate(%s{%s,status_class=\"5xx\"}[%s])) or vector(0)) / sum(rate(%s{%s}[%s]))",
				gatewayRequestsMetric, rsel, pd, gatewayRequestsMetric, rsel, pd), gatewayRequestsMetric})
	}
	for _, t := range tries {
		v, found, err := q.query(t.expr)
		if err != nil {
			return 0, "", false, err
		}
		if found {
			return v, t.source, !math.IsNaN(v), nil
		}
	}
	return 0, "no series", false, nil
}

// gatewayRequestsMetric is the gateway's request counter, by route and
// status class (observe.ProxyMetrics).
const gatewayRequestsMetric = "levee_gateway_requests_total"

// query runs an instant query and returns the value of its single sample;
// found is false for an empty result.
func (q *promClient) query(expr string) (v float64, found bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), q.client.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, q.base+"/api/v1/query?"+url.Values{"query": {expr}}.Encode(), nil)
	if err != nil {
		return 0, false, err
	}
	resp, err := q.client.Do(req)
	if err != nil {
		return 0, false, fmt.Errorf("prometheus: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Value [2]json.RawMessage `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&body); err != nil {
		return 0, false, fmt.Errorf("prometheus: %s answered %s with a body that is not the query API's JSON: %v", q.base, resp.Status, err)
	}
	if body.Status != "success" {
		return 0, false, fmt.Errorf("prometheus: query %q: %s (%s)", expr, body.Error, resp.Status)
	}
	if body.Data.ResultType != "vector" {
		return 0, false, fmt.Errorf("prometheus: query %q: result type %q, want vector", expr, body.Data.ResultType)
	}
	switch len(body.Data.Result) {
	case 0:
		return 0, false, nil
	case 1:
	default:
		return 0, false, fmt.Errorf("prometheus: query %q: %d series, want one (is the SLO name used twice?)", expr, len(body.Data.Result))
	}
	var s string
	if err := json.Unmarshal(body.Data.Result[0].Value[1], &s); err != nil {
		return 0, false, fmt.Errorf("prometheus: query %q: sample value: %v", expr, err)
	}
	v, err = strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false, fmt.Errorf("prometheus: query %q: sample value %q: %v", expr, s, err)
	}
	return v, true, nil
}
