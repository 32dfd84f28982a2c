package openslo_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/levee-go/levee/observe/openslo"
	"github.com/levee-go/levee/slo"
)

// essentials is what OpenSLO carries of a config.
type essentials struct {
	Name      string
	Objective float64
	Window    time.Duration
	Latency   time.Duration
}

func essentialsOf(cfgs []slo.Config) []essentials {
	out := make([]essentials, len(cfgs))
	for i, c := range cfgs {
		out[i] = essentials{c.Name, c.Objective, c.Window, c.Latency}
	}
	return out
}

func TestDecodeTestdata(t *testing.T) {
	f, err := os.Open("testdata/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfgs, err := openslo.Decode(f)
	if err != nil {
		t.Fatalf("Decode(shop.yaml) error: %v", err)
	}
	want := []essentials{
		{"checkout-availability", 0.999, 28 * 24 * time.Hour, 0},
		{"search-fast", 0.95, 7 * 24 * time.Hour, 300 * time.Millisecond},
		{"search-under-a-second", 99.5 / 100, 7 * 24 * time.Hour, time.Second},
	}
	got := essentialsOf(cfgs)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Decode(shop.yaml) = %+v, want %+v", got, want)
	}
	for _, c := range cfgs {
		if c.Alerts != nil || c.Bucket != 0 || c.MinEvents != 0 || c.Good != nil {
			t.Errorf("Decode(shop.yaml) %q sets fields OpenSLO does not carry: %+v", c.Name, c)
		}
		if _, err := slo.New(c); err != nil {
			t.Errorf("slo.New(%q) = %v, want a working SLO", c.Name, err)
		}
	}
}

// base is a valid SLO; the table below breaks one thing in it at a time.
// The line numbers in the table are those of this text after the edit.
const base = `apiVersion: openslo/v1
kind: SLO
metadata:
  name: api
spec:
  service: api
  indicator:
    metadata:
      name: api-ok
    spec:
      ratioMetric:
        counter: true
  timeWindow:
    - duration: 30d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - displayName: ok
      target: 0.999
`

// threshold turns base into a latency SLO whose objective holds extra.
func threshold(extra string) [][2]string {
	return [][2]string{
		{"      ratioMetric:\n        counter: true", "      thresholdMetric:\n        metricSource: {type: Prometheus}"},
		{"      target: 0.999\n", extra + "      target: 0.999\n"},
	}
}

var badInputs = []struct {
	name  string
	edits [][2]string // replacements applied to base
	text  string      // used instead of base when set
	line  int
	path  string
	msg   string
	is    error
}{
	{name: "target above one", edits: [][2]string{{"target: 0.999", "target: 1.5"}},
		line: 19, path: "spec.objectives[0].target", msg: "1.5, want a fraction between 0 and 1", is: openslo.ErrInvalid},
	{name: "target zero", edits: [][2]string{{"target: 0.999", "target: 0"}},
		line: 19, path: "spec.objectives[0].target", msg: "want a fraction", is: openslo.ErrInvalid},
	{name: "target one", edits: [][2]string{{"target: 0.999", "target: 1"}},
		line: 19, path: "spec.objectives[0].target", msg: "want a fraction", is: openslo.ErrInvalid},
	{name: "target not a number", edits: [][2]string{{"target: 0.999", "target: high"}},
		line: 19, path: "spec.objectives[0].target", msg: `"high", want a number`, is: openslo.ErrInvalid},
	{name: "target NaN", edits: [][2]string{{"target: 0.999", "target: NaN"}},
		line: 19, path: "spec.objectives[0].target", msg: "want a fraction", is: openslo.ErrInvalid},
	{name: "target missing", edits: [][2]string{{"      target: 0.999\n", ""}},
		line: 18, path: "spec.objectives[0].target", msg: "missing", is: openslo.ErrInvalid},
	{name: "target null", edits: [][2]string{{"target: 0.999", "target:"}},
		line: 18, path: "spec.objectives[0].target", msg: "missing", is: openslo.ErrInvalid},
	{name: "targetPercent above 100", edits: [][2]string{{"target: 0.999", "targetPercent: 150"}},
		line: 19, path: "spec.objectives[0].targetPercent", msg: "150, want a percentage between 0 and 100", is: openslo.ErrInvalid},
	{name: "target and targetPercent", edits: [][2]string{{"target: 0.999", "target: 0.999\n      targetPercent: 99.9"}},
		line: 20, path: "spec.objectives[0].targetPercent", msg: "not both", is: openslo.ErrInvalid},
	{name: "calendar window", edits: [][2]string{{"      isRolling: true", "      isRolling: false\n      calendar:\n        startTime: 2022-01-01 12:00:00\n        timeZone: UTC"}},
		line: 16, path: "spec.timeWindow[0].calendar", msg: "calendar-aligned windows are not supported", is: openslo.ErrUnsupported},
	{name: "not rolling", edits: [][2]string{{"isRolling: true", "isRolling: false"}},
		line: 15, path: "spec.timeWindow[0].isRolling", msg: "only rolling windows", is: openslo.ErrUnsupported},
	{name: "rolling not a bool", edits: [][2]string{{"isRolling: true", "isRolling: maybe"}},
		line: 15, path: "spec.timeWindow[0].isRolling", msg: `"maybe", want true`, is: openslo.ErrInvalid},
	{name: "rolling missing", edits: [][2]string{{"      isRolling: true\n", ""}},
		line: 14, path: "spec.timeWindow[0].isRolling", msg: "missing", is: openslo.ErrInvalid},
	{name: "month window", edits: [][2]string{{"duration: 30d", "duration: 1M"}},
		line: 14, path: "spec.timeWindow[0].duration", msg: "no fixed length", is: openslo.ErrUnsupported},
	{name: "seconds window", edits: [][2]string{{"duration: 30d", "duration: 30s"}},
		line: 14, path: "spec.timeWindow[0].duration", msg: `"30s", want a whole number followed by m, h, d or w`, is: openslo.ErrInvalid},
	{name: "go duration", edits: [][2]string{{"duration: 30d", "duration: 1h30m"}},
		line: 14, path: "spec.timeWindow[0].duration", msg: "want a whole number", is: openslo.ErrInvalid},
	{name: "negative window", edits: [][2]string{{"duration: 30d", "duration: -3d"}},
		line: 14, path: "spec.timeWindow[0].duration", msg: "want a whole number", is: openslo.ErrInvalid},
	{name: "zero window", edits: [][2]string{{"duration: 30d", "duration: 0d"}},
		line: 14, path: "spec.timeWindow[0].duration", msg: "want a positive duration", is: openslo.ErrInvalid},
	{name: "huge window", edits: [][2]string{{"duration: 30d", "duration: 99999999999w"}},
		line: 14, path: "spec.timeWindow[0].duration", msg: "too long", is: openslo.ErrInvalid},
	{name: "window not a list", edits: [][2]string{{"  timeWindow:\n    - duration: 30d\n      isRolling: true", "  timeWindow: 30d"}},
		line: 13, path: "spec.timeWindow", msg: "want a list of exactly one time window", is: openslo.ErrInvalid},
	{name: "two windows", edits: [][2]string{{"      isRolling: true", "      isRolling: true\n    - duration: 7d\n      isRolling: true"}},
		line: 13, path: "spec.timeWindow", msg: "exactly one", is: openslo.ErrInvalid},
	{name: "window missing", edits: [][2]string{{"  timeWindow:\n    - duration: 30d\n      isRolling: true\n", ""}},
		line: 5, path: "spec.timeWindow", msg: "missing", is: openslo.ErrInvalid},
	{name: "timeslices", edits: [][2]string{{"budgetingMethod: Occurrences", "budgetingMethod: Timeslices"}},
		line: 16, path: "spec.budgetingMethod", msg: "Timeslices, only Occurrences is supported", is: openslo.ErrUnsupported},
	{name: "old apiVersion", edits: [][2]string{{"apiVersion: openslo/v1", "apiVersion: openslo/v1alpha"}},
		line: 1, path: "apiVersion", msg: `"openslo/v1alpha", want openslo/v1`, is: openslo.ErrUnsupported},
	{name: "apiVersion missing", edits: [][2]string{{"apiVersion: openslo/v1\n", ""}},
		line: 1, path: "apiVersion", msg: "missing", is: openslo.ErrInvalid},
	{name: "name missing", edits: [][2]string{{"metadata:\n  name: api", "metadata:\n  displayName: API"}},
		line: 3, path: "metadata.name", msg: "missing", is: openslo.ErrInvalid},
	{name: "name empty", edits: [][2]string{{"  name: api\n", "  name: ''\n"}},
		line: 4, path: "metadata.name", msg: "empty name", is: openslo.ErrInvalid},
	{name: "spec a list", text: "apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: api\nspec: [1, 2]\n",
		line: 5, path: "spec", msg: "want a mapping", is: openslo.ErrInvalid},
	{name: "threshold op gte", edits: threshold("      op: gte\n      value: 0.2\n"),
		line: 19, path: "spec.objectives[0].op", msg: `"gte", only lte and lt`, is: openslo.ErrUnsupported},
	{name: "threshold op missing", edits: threshold("      value: 0.2\n"),
		line: 18, path: "spec.objectives[0].op", msg: "missing", is: openslo.ErrInvalid},
	{name: "threshold value missing", edits: threshold("      op: lte\n"),
		line: 18, path: "spec.objectives[0].value", msg: "missing", is: openslo.ErrInvalid},
	{name: "threshold value negative", edits: threshold("      op: lte\n      value: -0.2\n"),
		line: 20, path: "spec.objectives[0].value", msg: `"-0.2", want a positive latency in seconds`, is: openslo.ErrInvalid},
	{name: "threshold value zero", edits: threshold("      op: lte\n      value: 0\n"),
		line: 20, path: "spec.objectives[0].value", msg: "want a positive latency", is: openslo.ErrInvalid},
	{name: "threshold value with unit", edits: threshold("      op: lte\n      value: 1m\n"),
		line: 20, path: "spec.objectives[0].value", msg: "want a positive latency", is: openslo.ErrInvalid},
	{name: "threshold value infinite", edits: threshold("      op: lte\n      value: .inf\n"),
		line: 20, path: "spec.objectives[0].value", msg: "want a positive latency", is: openslo.ErrInvalid},
	{name: "threshold value a list", edits: threshold("      op: lte\n      value: [1]\n"),
		line: 20, path: "spec.objectives[0].value", msg: "want a single value", is: openslo.ErrInvalid},
	{name: "both metrics", edits: [][2]string{{"        counter: true", "        counter: true\n      thresholdMetric: {}"}},
		line: 13, path: "spec.indicator.spec.thresholdMetric", msg: "not both", is: openslo.ErrInvalid},
	{name: "no metric", edits: [][2]string{{"      ratioMetric:\n        counter: true", "      rawMetric: {}"}},
		line: 10, path: "spec.indicator.spec", msg: "want ratioMetric or thresholdMetric", is: openslo.ErrInvalid},
	{name: "no indicator", edits: [][2]string{{"  indicator:\n    metadata:\n      name: api-ok\n    spec:\n      ratioMetric:\n        counter: true\n", ""}},
		line: 12, path: "spec.objectives[0]", msg: "no indicator", is: openslo.ErrInvalid},
	{name: "unknown indicatorRef", edits: [][2]string{{"  indicator:\n    metadata:\n      name: api-ok\n    spec:\n      ratioMetric:\n        counter: true\n", "  indicatorRef: nope\n"}},
		line: 7, path: "spec.indicatorRef", msg: `no SLI named "nope" in the stream`, is: openslo.ErrInvalid},
	{name: "indicator and indicatorRef", edits: [][2]string{{"  indicator:\n", "  indicatorRef: api-ok\n  indicator:\n"}},
		line: 7, path: "spec.indicatorRef", msg: "not both", is: openslo.ErrInvalid},
	{name: "objectives empty", edits: [][2]string{{"  objectives:\n    - displayName: ok\n      target: 0.999", "  objectives: []"}},
		line: 17, path: "spec.objectives", msg: "one or more objectives", is: openslo.ErrInvalid},
	{name: "objective a string", edits: [][2]string{{"    - displayName: ok\n      target: 0.999", "    - ok"}},
		line: 18, path: "spec.objectives[0]", msg: "want an objective", is: openslo.ErrInvalid},
	{name: "duplicate name", edits: [][2]string{{"      target: 0.999\n", "      target: 0.999\n---\n" + base}},
		line: 24, path: "metadata.name", msg: `SLO name "api" is already used at line 4`, is: openslo.ErrInvalid},
	{name: "duplicate objective names", edits: [][2]string{{"      target: 0.999\n", "      target: 0.999\n    - displayName: OK!\n      target: 0.99\n"}},
		line: 4, path: "metadata.name", msg: `SLO name "api-ok" is already used at line 4`, is: openslo.ErrInvalid},
	{name: "list item not an object", text: "- 3\n- kind: Service\n",
		line: 1, path: "[0]", msg: "want an OpenSLO object", is: openslo.ErrInvalid},
	{name: "SLI of another version", text: "apiVersion: openslo/v1alpha\nkind: SLI\nmetadata:\n  name: old\nspec:\n  ratioMetric: {}\n---\n" +
		strings.Replace(base, "  indicator:\n    metadata:\n      name: api-ok\n    spec:\n      ratioMetric:\n        counter: true\n", "  indicatorRef: old\n", 1),
		line: 1, path: "apiVersion", msg: `"openslo/v1alpha", want openslo/v1`, is: openslo.ErrUnsupported},
	{name: "duplicate SLI", text: "apiVersion: openslo/v1\nkind: SLI\nmetadata:\n  name: ok\n---\n- kind: SLI\n  metadata:\n    name: ok\n",
		line: 8, path: "[0].metadata.name", msg: `SLI name "ok" is already used at line 4`, is: openslo.ErrInvalid},
	{name: "scalar document", text: "just words\n",
		line: 1, path: "", msg: "want an OpenSLO object or a list of them", is: openslo.ErrInvalid},
}

func TestDecodeErrors(t *testing.T) {
	for _, tt := range badInputs {
		t.Run(tt.name, func(t *testing.T) {
			in := badInput(t, tt.text, tt.edits)
			cfgs, err := openslo.Decode(strings.NewReader(in))
			if err == nil {
				t.Fatalf("Decode(%q) = %+v, want an error", in, cfgs)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("Decode(%q) = %v, want an error matching %v", in, err, tt.is)
			}
			var e *openslo.Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode(%q) = %v (%T), want an *openslo.Error", in, err, err)
			}
			if e.Line != tt.line || e.Path != tt.path {
				t.Errorf("Decode(%q) = %v, want line %d, path %q", in, err, tt.line, tt.path)
			}
			want := fmt.Sprintf("openslo: line %d: ", tt.line)
			if tt.path != "" {
				want += tt.path + ": "
			}
			if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Decode(%q) = %q, want %q followed by a message containing %q", in, err, want, tt.msg)
			}
		})
	}
}

// badInput returns text, or base with edits applied; each edit must apply.
func badInput(t testing.TB, text string, edits [][2]string) string {
	if text != "" {
		return text
	}
	in := base
	for _, e := range edits {
		if !strings.Contains(in, e[0]) {
			t.Fatalf("edit %q does not apply", e[0])
		}
		in = strings.Replace(in, e[0], e[1], 1)
	}
	return in
}

func TestDecodeBase(t *testing.T) {
	cfgs, err := openslo.Decode(strings.NewReader(base))
	if err != nil {
		t.Fatalf("Decode(base) error: %v", err)
	}
	want := []essentials{{"api", 0.999, 30 * 24 * time.Hour, 0}}
	if got := essentialsOf(cfgs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Decode(base) = %+v, want %+v", got, want)
	}
}

const aliased = `- apiVersion: openslo/v1
  kind: SLO
  metadata: {name: a}
  spec: &spec
    service: s
    indicator: {spec: {ratioMetric: {}}}
    timeWindow: [{duration: 1h, isRolling: true}]
    objectives: [{target: 0.9}]
- apiVersion: openslo/v1
  kind: SLO
  metadata: {name: b}
  spec: *spec
`

func TestDecodeSyntaxError(t *testing.T) {
	in := "apiVersion: openslo/v1\nkind: SLO\nspec:\n  objectives: [\n"
	_, err := openslo.Decode(strings.NewReader(in))
	if !errors.Is(err, openslo.ErrInvalid) || !strings.HasPrefix(err.Error(), "openslo: ") || !strings.Contains(err.Error(), "line") {
		t.Fatalf("Decode(%q) = %v, want an ErrInvalid naming the line", in, err)
	}
}

func TestDecodeAccepts(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		edits [][2]string
		want  []essentials
	}{
		{name: "empty stream", text: "\n", want: []essentials{}},
		{name: "only comments and separators", text: "# nothing\n---\n---\n", want: []essentials{}},
		{name: "other kinds only", text: "apiVersion: openslo/v1alpha\nkind: Service\nmetadata:\n  name: x\n---\nkind: DataSource\n", want: []essentials{}},
		{name: "list of objects", text: "- kind: Service\n- " + strings.ReplaceAll(strings.TrimSuffix(base, "\n"), "\n", "\n  ") + "\n",
			want: []essentials{{"api", 0.999, 30 * 24 * time.Hour, 0}}},
		{name: "no budgetingMethod", edits: [][2]string{{"  budgetingMethod: Occurrences\n", ""}},
			want: []essentials{{"api", 0.999, 30 * 24 * time.Hour, 0}}},
		{name: "weeks and percent", edits: [][2]string{{"duration: 30d", "duration: 2w"}, {"target: 0.999", "targetPercent: 95"}},
			want: []essentials{{"api", 0.95, 14 * 24 * time.Hour, 0}}},
		{name: "minutes", edits: [][2]string{{"duration: 30d", "duration: 5m"}},
			want: []essentials{{"api", 0.999, 5 * time.Minute, 0}}},
		{name: "lt threshold in exponent form", edits: threshold("      op: lt\n      value: 2.5e-1\n"),
			want: []essentials{{"api", 0.999, 30 * 24 * time.Hour, 250 * time.Millisecond}}},
		{name: "ratio ignores op and value", edits: [][2]string{{"target: 0.999", "op: gt\n      value: 7\n      target: 0.999"}},
			want: []essentials{{"api", 0.999, 30 * 24 * time.Hour, 0}}},
		{name: "objective indicator overrides spec", edits: [][2]string{{"      target: 0.999\n",
			"      target: 0.999\n    - displayName: Slow calls\n      op: lte\n      value: 2\n      target: 0.9\n      indicator:\n        spec:\n          thresholdMetric: {}\n"}},
			want: []essentials{{"api-ok", 0.999, 30 * 24 * time.Hour, 0}, {"api-slow-calls", 0.9, 30 * 24 * time.Hour, 2 * time.Second}}},
		{name: "objectives without displayName", edits: [][2]string{{"    - displayName: ok\n      target: 0.999\n", "    - target: 0.999\n    - displayName: '!!'\n      target: 0.99\n"}},
			want: []essentials{{"api-0", 0.999, 30 * 24 * time.Hour, 0}, {"api-1", 0.99, 30 * 24 * time.Hour, 0}}},
		{name: "anchors and aliases", text: aliased, want: []essentials{{"a", 0.9, time.Hour, 0}, {"b", 0.9, time.Hour, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := badInput(t, tt.text, tt.edits)
			cfgs, err := openslo.Decode(strings.NewReader(in))
			if tt.want == nil {
				if err == nil {
					t.Fatalf("Decode(%q) = %+v, want an error", in, cfgs)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%q) error: %v", in, err)
			}
			if got := essentialsOf(cfgs); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("Decode(%q) = %+v, want %+v", in, got, tt.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files in testdata: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(base))
	for _, tt := range badInputs {
		f.Add([]byte(badInput(f, tt.text, tt.edits)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfgs, err := openslo.Decode(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, openslo.ErrInvalid) && !errors.Is(err, openslo.ErrUnsupported) {
				t.Fatalf("Decode error %v matches neither ErrInvalid nor ErrUnsupported", err)
			}
			return
		}
		for _, c := range cfgs {
			if c.Name == "" || !(c.Objective > 0 && c.Objective < 1) || c.Window <= 0 || c.Window%time.Minute != 0 || c.Latency < 0 {
				t.Fatalf("Decode returned %+v, outside what it promises", c)
			}
		}
		// What Decode accepts, Encode writes and Decode reads back alike.
		var buf bytes.Buffer
		if err := openslo.Encode(&buf, "fuzz", cfgs...); err != nil {
			t.Fatalf("Encode(Decode(data)) error: %v", err)
		}
		back, err := openslo.Decode(&buf)
		if err != nil {
			t.Fatalf("Decode(Encode(Decode(data))) error: %v\n%s", err, buf.String())
		}
		if got, want := essentialsOf(back), essentialsOf(cfgs); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("Decode(Encode(cfgs)) = %+v, want %+v", got, want)
		}
	})
}
