package openslo_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/observe"
	"github.com/levee-go/levee/observe/openslo"
	"github.com/levee-go/levee/slo"
)

func TestRoundTrip(t *testing.T) {
	cfgs := []slo.Config{
		{Name: "checkout"},
		{Name: "checkout-latency", Objective: 0.99, Window: 28 * 24 * time.Hour, Latency: 250 * time.Millisecond},
		{Name: "tiny", Objective: 0.5, Window: time.Minute, Latency: time.Nanosecond},
		{Name: "odd", Objective: 1 - 1e-9, Window: 90 * time.Minute, Latency: 1234567891 * time.Nanosecond},
		{Name: "hours", Objective: 0.99999, Window: 36 * time.Hour, Latency: 3 * time.Second},
		{Name: "Payments API", Objective: 0.1 + 0.2, Window: 7 * 24 * time.Hour},
		{Name: `quote"and\slash: #x`, Objective: 0.9, Window: 3 * time.Hour, Latency: time.Hour},
	}
	var buf bytes.Buffer
	if err := openslo.Encode(&buf, "shop", cfgs...); err != nil {
		t.Fatalf("Encode error: %v", err)
	}
	back, err := openslo.Decode(&buf)
	if err != nil {
		t.Fatalf("Decode(Encode(cfgs)) error: %v\n%s", err, buf.String())
	}
	want := essentialsOf(cfgs)
	want[0] = essentials{"checkout", slo.DefaultObjective, slo.DefaultWindow, 0}
	if got := essentialsOf(back); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Decode(Encode(cfgs)) = %+v, want %+v", got, want)
	}
}

func TestRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		c := slo.Config{
			Name:      fmt.Sprintf("slo-%d", i),
			Objective: r.Float64(),
			Window:    time.Duration(1+r.Int64N(5_000_000)) * time.Minute,
		}
		if r.IntN(2) == 0 {
			c.Latency = time.Duration(1 + r.Int64N(int64(time.Hour)))
		}
		if c.Objective == 0 {
			continue
		}
		var buf bytes.Buffer
		if err := openslo.Encode(&buf, "svc", c); err != nil {
			t.Fatalf("Encode(%+v) error: %v", c, err)
		}
		back, err := openslo.Decode(&buf)
		if err != nil {
			t.Fatalf("Decode(Encode(%+v)) error: %v", c, err)
		}
		want := essentialsOf([]slo.Config{c})
		if got := essentialsOf(back); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("Decode(Encode(%+v)) = %+v, want %+v", c, got, want)
		}
	}
}

func TestEncodeNothing(t *testing.T) {
	var buf bytes.Buffer
	if err := openslo.Encode(&buf, "shop"); err != nil || buf.Len() != 0 {
		t.Fatalf("Encode(no configs) = %v and %q, want nil and nothing", err, buf.String())
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		service string
		cfgs    []slo.Config
		want    string
		is      error
	}{
		{"no service", "", []slo.Config{{}}, "empty service", nil},
		{"seconds window", "s", []slo.Config{{Window: 90 * time.Second}}, "window 1m30s", openslo.ErrUnsupported},
		{"negative window", "s", []slo.Config{{Window: -time.Hour}}, "window -1h0m0s", openslo.ErrUnsupported},
		{"objective one", "s", []slo.Config{{Objective: 1}}, "objective 1 must be between 0 and 1", nil},
		{"objective negative", "s", []slo.Config{{Objective: -0.5}}, "objective -0.5", nil},
		{"negative latency", "s", []slo.Config{{Latency: -time.Second}}, "latency -1s", nil},
		{"duplicate", "s", []slo.Config{{Name: "a"}, {Name: "b"}, {Name: "a"}}, `configs[2]: duplicate Name "a"`, nil},
		{"duplicate default", "s", []slo.Config{{}, {Name: "slo"}}, `duplicate Name "slo"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := openslo.Encode(&buf, tt.service, tt.cfgs...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Encode = %v, want an error containing %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Encode = %v, want an error matching %v", err, tt.is)
			}
			if buf.Len() != 0 {
				t.Errorf("Encode wrote %d bytes before failing, want none", buf.Len())
			}
		})
	}
}

// The queries Encode writes read series the observe module exports, with
// labels those series have.
func TestQueriesReadObserveMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := observe.NewMetrics(reg, observe.MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfgs := []slo.Config{{Name: "checkout"}, {Name: "search", Latency: 300 * time.Millisecond}}
	for _, c := range cfgs {
		for _, g := range []*observe.RequestsGate{m.Requests(c.Name, nil), m.SLO(c.Name, nil, nil)} {
			if err := levee.New(g).Run(context.Background(), func(context.Context) error { return nil }); err != nil {
				t.Fatal(err)
			}
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]map[string]bool{} // series name → its label names
	for _, f := range families {
		names := map[string]bool{}
		for _, l := range f.GetMetric()[0].GetLabel() {
			names[l.GetName()] = true
		}
		if f.GetType() == dto.MetricType_HISTOGRAM {
			names["le"] = true
			exported[f.GetName()+"_bucket"] = names
		} else {
			exported[f.GetName()] = names
		}
	}

	var buf bytes.Buffer
	if err := openslo.Encode(&buf, "shop", cfgs...); err != nil {
		t.Fatal(err)
	}
	var queries []string
	dec := yaml.NewDecoder(&buf)
	for {
		var doc any
		if err := dec.Decode(&doc); err != nil {
			break
		}
		queries = append(queries, findQueries(doc)...)
	}
	if len(queries) != 3 {
		t.Fatalf("Encode wrote queries %q, want two for the ratio and one for the threshold", queries)
	}
	selector := regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}`)
	matcher := regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)(=~|!~|!=|=)"([^"]*)"`)
	for _, q := range queries {
		sels := selector.FindAllStringSubmatch(q, -1)
		if len(sels) == 0 {
			t.Errorf("query %q selects no series", q)
		}
		for _, sel := range sels {
			labels, ok := exported[sel[1]]
			if !ok {
				t.Errorf("query %q reads %s, which observe does not export", q, sel[1])
				continue
			}
			for _, mt := range matcher.FindAllStringSubmatch(sel[2], -1) {
				if !labels[mt[1]] {
					t.Errorf("query %q matches label %s, which %s does not have", q, mt[1], sel[1])
				}
				if (mt[1] == "slo" || mt[1] == "name") && mt[3] != "checkout" && mt[3] != "search" {
					t.Errorf("query %q selects %s=%q, want an SLO's name", q, mt[1], mt[3])
				}
			}
		}
	}
}

// findQueries returns the values of every "query" key in v.
func findQueries(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "query" {
				out = append(out, s)
			}
			out = append(out, findQueries(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, findQueries(x)...)
		}
	}
	return out
}
