package slo_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/levee-go/levee/slo"
)

// ruleConfigs are the SLOs the rule tests generate rules for.
func ruleConfigs() []slo.Config {
	return []slo.Config{
		{Name: "checkout"},
		{Name: "quiet"},
		{Name: "healthy", Objective: 0.99, Window: 7 * 24 * time.Hour, Alerts: []slo.Alert{
			{Severity: "fast_burn", Long: time.Hour, Short: 5 * time.Minute, Factor: 10},
		}},
		{Name: `odd "name" \ with.dots-and-dashes`, MinEvents: -1},
	}
}

func generate(t *testing.T, cfgs ...slo.Config) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := slo.WritePrometheusRules(&buf, cfgs...); err != nil {
		t.Fatalf("WritePrometheusRules = %v", err)
	}
	return buf.Bytes()
}

func TestWritePrometheusRulesErrors(t *testing.T) {
	tests := []struct {
		name string
		cfgs []slo.Config
		want string
	}{
		{"invalid config", []slo.Config{{Objective: 2}}, "configs[0]: slo: Objective 2"},
		{"duplicate", []slo.Config{{Name: "a"}, {Name: "a"}}, `configs[1]: duplicate Name "a"`},
		{"sub-millisecond window", []slo.Config{{Window: time.Second, Bucket: time.Microsecond, Alerts: []slo.Alert{{Severity: "page", Long: 1500 * time.Microsecond, Short: time.Millisecond, Factor: 2}}}}, "not a whole number of milliseconds"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		err := slo.WritePrometheusRules(&buf, tt.cfgs...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: WritePrometheusRules = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

// TestPrometheusRulesStructure parses the generated file with a small
// parser for the YAML subset the generator writes, and checks its shape:
// this runs whether or not promtool is installed.
func TestPrometheusRulesStructure(t *testing.T) {
	cfgs := ruleConfigs()
	doc, err := parseYAML(string(generate(t, cfgs...)))
	if err != nil {
		t.Fatalf("parsing the generated rules: %v", err)
	}
	groups, ok := doc.(map[string]any)["groups"].([]any)
	if !ok {
		t.Fatalf("generated rules have no groups list: %#v", doc)
	}
	metricName := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	names := map[string]bool{}
	records := map[string][]string{} // slo -> record names
	alerts := map[string][]string{}  // slo -> alert names
	for gi, g := range groups {
		gm := g.(map[string]any)
		name, _ := gm["name"].(string)
		if name == "" || names[name] {
			t.Fatalf("groups[%d].name = %q: empty or duplicate", gi, name)
		}
		names[name] = true
		rules, _ := gm["rules"].([]any)
		if len(rules) == 0 {
			t.Fatalf("group %q has no rules", name)
		}
		for ri, r := range rules {
			rm := r.(map[string]any)
			expr, _ := rm["expr"].(string)
			if strings.TrimSpace(expr) == "" || strings.Count(expr, "(") != strings.Count(expr, ")") ||
				strings.Count(expr, "{") != strings.Count(expr, "}") || strings.Count(expr, "[") != strings.Count(expr, "]") {
				t.Fatalf("group %q rule %d: expr %q is empty or unbalanced", name, ri, expr)
			}
			labels, _ := rm["labels"].(map[string]any)
			sloName, _ := labels["slo"].(string)
			if strings.Contains(expr, "{") && !strings.Contains(expr, "slo="+strconv.Quote(sloName)) {
				t.Fatalf("group %q rule %d: expr %q does not select slo=%q", name, ri, expr, sloName)
			}
			switch {
			case rm["record"] != nil:
				rec := rm["record"].(string)
				if !metricName.MatchString(rec) {
					t.Fatalf("record %q is not a valid metric name", rec)
				}
				records[sloName] = append(records[sloName], rec)
			case rm["alert"] != nil:
				al := rm["alert"].(string)
				if !metricName.MatchString(al) || labels["severity"] == nil {
					t.Fatalf("alert %q: invalid name or no severity label", al)
				}
				alerts[sloName] = append(alerts[sloName], al)
			default:
				t.Fatalf("group %q rule %d is neither a record nor an alert: %v", name, ri, rm)
			}
		}
	}
	wantRecords := []string{
		"slo:sli_error:ratio_rate5m", "slo:sli_error:ratio_rate30m", "slo:sli_error:ratio_rate1h",
		"slo:sli_error:ratio_rate2h", "slo:sli_error:ratio_rate6h", "slo:sli_error:ratio_rate1d",
		"slo:sli_error:ratio_rate3d", "slo:sli_error:ratio_rate30d",
		"slo:objective:ratio", "slo:error_budget:ratio", "slo:time_period:days",
		"slo:current_burn_rate:ratio", "slo:period_burn_rate:ratio", "slo:period_error_budget_remaining:ratio",
	}
	if got := records["checkout"]; !slices.Equal(got, wantRecords) {
		t.Errorf("records of checkout = %q, want %q", got, wantRecords)
	}
	if got, want := alerts["checkout"], []string{"LeveeSLOBurnRatePage", "LeveeSLOBurnRateTicket"}; !slices.Equal(got, want) {
		t.Errorf("alerts of checkout = %q, want %q", got, want)
	}
	if got, want := alerts["healthy"], []string{"LeveeSLOBurnRateFastBurn"}; !slices.Equal(got, want) {
		t.Errorf("alerts of healthy = %q, want %q", got, want)
	}
	if got := records["healthy"]; !slices.Contains(got, "slo:sli_error:ratio_rate7d") {
		t.Errorf("records of healthy = %q, want one over its 7d window", got)
	}
	if len(records[cfgs[3].Name]) == 0 {
		t.Errorf("the oddly named SLO's label did not round-trip: records by slo = %v", records)
	}
}

// TestPrometheusRulesWithPromtool checks and unit-tests the generated rules
// with promtool when it is installed (Debian package prometheus).
func TestPrometheusRulesWithPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool is not installed: the generated rules were checked structurally only (TestPrometheusRulesStructure)")
		t.Skip("promtool not found")
	}
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(rules, generate(t, ruleConfigs()...), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", rules).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	// checkout burns at 20× (2% errors) for 90 minutes, then recovers;
	// quiet fails every call but sees one every five minutes, too few for
	// MinEvents (100) in any window;
	// healthy has no errors.
	tests := fmt.Sprintf(`rule_files:
  - rules.yml
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'levee_slo_events_total{slo="checkout",good="true"}'
        values: '0+980x90 88200+1000x90'
      - series: 'levee_slo_events_total{slo="checkout",good="false"}'
        values: '0+20x90 1800+0x90'
      - series: 'levee_slo_events_total{slo="quiet",good="false"}'
        values: '0+0.2x180'
      - series: 'levee_slo_events_total{slo="healthy",good="true"}'
        values: '0+1000x180'
      - series: 'levee_slo_events_total{slo="healthy",good="false"}'
        values: '0+0x180'
    promql_expr_test:
      - expr: slo:sli_error:ratio_rate5m{slo="checkout"}
        eval_time: 90m
        exp_samples:
          - labels: 'slo:sli_error:ratio_rate5m{slo="checkout",window="5m"}'
            value: 0.02
      - expr: round(slo:current_burn_rate:ratio{slo="checkout"}, 0.001)
        eval_time: 90m
        exp_samples:
          - labels: '{slo="checkout"}'
            value: 20
      - expr: slo:objective:ratio{slo="checkout"}
        eval_time: 90m
        exp_samples:
          - labels: 'slo:objective:ratio{slo="checkout"}'
            value: 0.999
      - expr: round(slo:period_error_budget_remaining:ratio{slo="checkout"}, 0.001)
        eval_time: 90m
        exp_samples:
          - labels: '{slo="checkout"}'
            value: -19
      - expr: slo:sli_error:ratio_rate1h{slo="healthy"}
        eval_time: 90m
        exp_samples:
          - labels: 'slo:sli_error:ratio_rate1h{slo="healthy",window="1h"}'
            value: 0
      - expr: slo:time_period:days{slo="healthy"}
        eval_time: 90m
        exp_samples:
          - labels: 'slo:time_period:days{slo="healthy"}'
            value: 7
    alert_rule_test:
      - eval_time: 90m
        alertname: LeveeSLOBurnRatePage
        exp_alerts:
          - exp_labels:
              severity: page
              slo: checkout
            exp_annotations:
              summary: %[1]q
      - eval_time: 90m
        alertname: LeveeSLOBurnRateTicket
        exp_alerts:
          - exp_labels:
              severity: ticket
              slo: checkout
            exp_annotations:
              summary: %[2]q
      - eval_time: 180m
        alertname: LeveeSLOBurnRatePage
        exp_alerts: []
      - eval_time: 90m
        alertname: LeveeSLOBurnRateFastBurn
        exp_alerts: []
`, "SLO checkout is burning its error budget too fast (page)", "SLO checkout is burning its error budget too fast (ticket)")
	testFile := filepath.Join(dir, "tests.yml")
	if err := os.WriteFile(testFile, []byte(tests), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "test", "rules", testFile)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	t.Logf("promtool evaluated the generated rules: %s", strings.TrimSpace(string(out)))
}

// parseYAML parses the subset of YAML the generator writes: block maps,
// block sequences (of maps), literal block scalars (|), double-quoted and
// plain scalars, and comment lines.
func parseYAML(src string) (any, error) {
	var lines []string
	for _, l := range strings.Split(src, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			lines = append(lines, l)
		}
	}
	p := &yamlParser{lines: lines}
	v, err := p.block(0)
	if err == nil && p.i != len(p.lines) {
		err = fmt.Errorf("line %q: unexpected indentation", p.lines[p.i])
	}
	return v, err
}

type yamlParser struct {
	lines []string
	i     int
}

func indentOf(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }

func (p *yamlParser) block(indent int) (any, error) {
	if p.i >= len(p.lines) {
		return nil, fmt.Errorf("missing block at end")
	}
	if strings.HasPrefix(p.lines[p.i][indent:], "- ") {
		return p.seq(indent)
	}
	return p.mapping(indent)
}

func (p *yamlParser) seq(indent int) (any, error) {
	var out []any
	for p.i < len(p.lines) && indentOf(p.lines[p.i]) == indent && strings.HasPrefix(p.lines[p.i][indent:], "- ") {
		// Turn "- key: v" into "  key: v" and read the item as a map.
		p.lines[p.i] = p.lines[p.i][:indent] + "  " + p.lines[p.i][indent+2:]
		v, err := p.mapping(indent + 2)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (p *yamlParser) mapping(indent int) (any, error) {
	out := map[string]any{}
	for p.i < len(p.lines) && indentOf(p.lines[p.i]) == indent && !strings.HasPrefix(p.lines[p.i][indent:], "- ") {
		line := p.lines[p.i][indent:]
		key, rest, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %q: no key", line)
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("line %q: duplicate key", line)
		}
		rest = strings.TrimSpace(rest)
		p.i++
		switch {
		case rest == "|":
			var body []string
			bi := -1
			for p.i < len(p.lines) && indentOf(p.lines[p.i]) > indent {
				if bi < 0 {
					bi = indentOf(p.lines[p.i])
				}
				body = append(body, p.lines[p.i][bi:])
				p.i++
			}
			out[key] = strings.Join(body, "\n") + "\n"
		case rest == "":
			if p.i >= len(p.lines) {
				return nil, fmt.Errorf("key %q: no value", key)
			}
			ci := indentOf(p.lines[p.i])
			if ci < indent || (ci == indent && !strings.HasPrefix(p.lines[p.i][ci:], "- ")) {
				return nil, fmt.Errorf("key %q: no value", key)
			}
			v, err := p.block(ci)
			if err != nil {
				return nil, err
			}
			out[key] = v
		case strings.HasPrefix(rest, `"`):
			s, err := strconv.Unquote(rest)
			if err != nil {
				return nil, fmt.Errorf("line %q: %v", line, err)
			}
			out[key] = s
		default:
			out[key] = rest
		}
	}
	return out, nil
}
