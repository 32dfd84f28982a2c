package openslo

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/levee-go/levee/slo"
)

// LatencyMetric is the histogram the latency indicators written by [Encode]
// read: the one an observe.Metrics.Requests gate records, in seconds,
// labelled by the gate's name.
const LatencyMetric = "levee_request_duration_seconds"

// Encode writes one OpenSLO v1 SLO document per config, for the service
// named service, in a multi-document YAML stream that [Decode] reads back
// to the same Name, Objective, Window and Latency. Zero fields take the
// defaults of [slo.New] (Name "slo", Objective 0.999, Window 30 days).
//
// Every SLO counts Occurrences over a rolling window. An availability SLO
// (Latency zero) gets a ratioMetric indicator over [slo.EventsMetric], the
// counter that observe.SLOCollector and observe.Metrics.SLO export and that
// the rules of [slo.WritePrometheusRules] read:
//
//	good:  sum(levee_slo_events_total{slo="<Name>",good="true"})
//	total: sum(levee_slo_events_total{slo="<Name>"})
//
// A latency SLO gets a thresholdMetric indicator, the Objective quantile of
// [LatencyMetric] for the gate of the same name over five minutes, ignored
// outcomes left out, and an objective with op lte and value Latency in
// seconds. That is as near as a
// single threshold metric comes to Levee's rule (the fraction of events no
// slower than Latency); the exact figure is the good/total ratio of
// levee_slo_events_total.
//
// Encode refuses an empty service, a window that is not a whole number of
// minutes (the smallest unit OpenSLO's duration shorthand has), a config
// that [slo.New] would refuse for its objective or latency, and duplicate
// names. Names are written as they are; OpenSLO tools expect lower-case
// letters, digits and '-', at most 63 of them.
func Encode(w io.Writer, service string, cfgs ...slo.Config) error {
	if service == "" {
		return errors.New("openslo: empty service name")
	}
	docs := make([]sloDoc, 0, len(cfgs))
	seen := map[string]bool{}
	for i, cfg := range cfgs {
		doc, err := newSLODoc(service, cfg)
		if err != nil {
			return fmt.Errorf("openslo: configs[%d] (%q): %w", i, cfg.Name, err)
		}
		if seen[doc.Metadata.Name] {
			return fmt.Errorf("openslo: configs[%d]: duplicate Name %q", i, doc.Metadata.Name)
		}
		seen[doc.Metadata.Name] = true
		docs = append(docs, doc)
	}
	if len(docs) == 0 {
		return nil // a YAML encoder that wrote nothing fails to close
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	for _, doc := range docs {
		if err := enc.Encode(doc); err != nil {
			return fmt.Errorf("openslo: %w", err)
		}
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("openslo: %w", err)
	}
	return nil
}

func newSLODoc(service string, cfg slo.Config) (sloDoc, error) {
	if cfg.Name == "" {
		cfg.Name = "slo"
	}
	if cfg.Objective == 0 {
		cfg.Objective = slo.DefaultObjective
	}
	if cfg.Window == 0 {
		cfg.Window = slo.DefaultWindow
	}
	if !(cfg.Objective > 0 && cfg.Objective < 1) {
		return sloDoc{}, fmt.Errorf("objective %v must be between 0 and 1 (exclusive)", cfg.Objective)
	}
	if cfg.Latency < 0 {
		return sloDoc{}, fmt.Errorf("latency %v must not be negative", cfg.Latency)
	}
	window, err := formatWindow(cfg.Window)
	if err != nil {
		return sloDoc{}, err
	}
	name := strconv.Quote(cfg.Name)
	pct := strconv.FormatFloat(cfg.Objective*100, 'g', 10, 64) + "%"
	obj := objective{Target: cfg.Objective}
	ind := indicator{Metadata: metadata{Name: cfg.Name + "-sli"}}
	var desc string
	if cfg.Latency > 0 {
		secs := formatSeconds(cfg.Latency)
		desc = fmt.Sprintf("%s of events take at most %v, over a rolling %s.", pct, cfg.Latency, window)
		obj.DisplayName = "latency"
		obj.Op = "lte"
		obj.Value = &yaml.Node{Kind: yaml.ScalarNode, Tag: numberTag(secs), Value: secs}
		ind.Spec.ThresholdMetric = prometheus(fmt.Sprintf(
			"histogram_quantile(%s, sum by (le) (rate(%s_bucket{name=%s,outcome!=\"ignored\"}[5m])))",
			strconv.FormatFloat(cfg.Objective, 'g', -1, 64), LatencyMetric, name))
	} else {
		desc = fmt.Sprintf("%s of events succeed, over a rolling %s.", pct, window)
		obj.DisplayName = "availability"
		ind.Spec.RatioMetric = &ratioMetric{
			Counter: true,
			Good:    prometheus(fmt.Sprintf(`sum(%s{slo=%s,good="true"})`, slo.EventsMetric, name)),
			Total:   prometheus(fmt.Sprintf(`sum(%s{slo=%s})`, slo.EventsMetric, name)),
		}
	}
	return sloDoc{
		APIVersion: APIVersion,
		Kind:       "SLO",
		Metadata:   metadata{Name: cfg.Name},
		Spec: sloSpec{
			Description:     desc,
			Service:         service,
			Indicator:       ind,
			TimeWindow:      []timeWindow{{Duration: window, IsRolling: true}},
			BudgetingMethod: "Occurrences",
			Objectives:      []objective{obj},
		},
	}, nil
}

// formatWindow writes d in OpenSLO's duration shorthand with the largest
// of the units d, h and m that divides it.
func formatWindow(d time.Duration) (string, error) {
	switch {
	case d <= 0 || d%time.Minute != 0:
		return "", fmt.Errorf("window %v: %w: OpenSLO durations are whole minutes, hours, days or weeks", d, ErrUnsupported)
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d", nil
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h", nil
	default:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m", nil
	}
}

// formatSeconds writes d as a decimal number of seconds, exactly.
func formatSeconds(d time.Duration) string {
	s := strconv.FormatInt(int64(d/time.Second), 10)
	if frac := d % time.Second; frac != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%09d", int64(frac)), "0")
	}
	return s
}

func numberTag(s string) string {
	if strings.Contains(s, ".") {
		return "!!float"
	}
	return "!!int"
}

func prometheus(query string) *metricSpec {
	m := &metricSpec{}
	m.MetricSource.Type = "Prometheus"
	m.MetricSource.Spec.Query = query
	return m
}

// The documents Encode writes, field order as in the OpenSLO v1 spec.
type (
	sloDoc struct {
		APIVersion string   `yaml:"apiVersion"`
		Kind       string   `yaml:"kind"`
		Metadata   metadata `yaml:"metadata"`
		Spec       sloSpec  `yaml:"spec"`
	}
	metadata struct {
		Name string `yaml:"name"`
	}
	sloSpec struct {
		Description     string       `yaml:"description"`
		Service         string       `yaml:"service"`
		Indicator       indicator    `yaml:"indicator"`
		TimeWindow      []timeWindow `yaml:"timeWindow"`
		BudgetingMethod string       `yaml:"budgetingMethod"`
		Objectives      []objective  `yaml:"objectives"`
	}
	indicator struct {
		Metadata metadata `yaml:"metadata"`
		Spec     sliSpec  `yaml:"spec"`
	}
	sliSpec struct {
		RatioMetric     *ratioMetric `yaml:"ratioMetric,omitempty"`
		ThresholdMetric *metricSpec  `yaml:"thresholdMetric,omitempty"`
	}
	ratioMetric struct {
		Counter bool        `yaml:"counter"`
		Good    *metricSpec `yaml:"good"`
		Total   *metricSpec `yaml:"total"`
	}
	metricSpec struct {
		MetricSource struct {
			Type string `yaml:"type"`
			Spec struct {
				Query string `yaml:"query"`
			} `yaml:"spec"`
		} `yaml:"metricSource"`
	}
	timeWindow struct {
		Duration  string `yaml:"duration"`
		IsRolling bool   `yaml:"isRolling"`
	}
	objective struct {
		DisplayName string     `yaml:"displayName"`
		Op          string     `yaml:"op,omitempty"`
		Value       *yaml.Node `yaml:"value,omitempty"`
		Target      float64    `yaml:"target"`
	}
)
