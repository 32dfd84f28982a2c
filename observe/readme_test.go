package observe_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/internal/readmetest"
	"github.com/levee-go/levee/observe"
	"github.com/levee-go/levee/slo"
)

// Example_readme is the README's observe snippet, run: Prometheus metrics,
// the SLO collector on the same registry, slog and OpenTelemetry listeners.
// TestREADMESnippet checks that the README shows this code.
func Example_readme() {
	b, _ := breaker.New(breaker.Config{Name: "payments"})
	mux := http.NewServeMux()

	// README begin
	reg := prometheus.NewRegistry() // or prometheus.DefaultRegisterer with promhttp.Handler()
	m, err := observe.NewMetrics(reg, observe.MetricsOptions{})
	if err != nil {
		panic(err)
	}
	m.Register(b)                                                  // b.OnEvent(m.Listener()), and b's levee_policy_state from now
	b.OnEvent(observe.Slog(slog.Default(), observe.SlogOptions{})) // state changes, panics, rate-limited rejection bursts
	o, _ := observe.NewOTel(otel.GetMeterProvider())
	b.OnEvent(o.Listener()) // OTel metrics + span events on the call's span
	s, _ := slo.New(slo.Config{Name: "checkout", Objective: 0.999})
	reg.MustRegister(observe.NewSLOCollector(nil, s)) // levee_slo_events_total, on the same registry
	p := levee.New(m.Requests("payments", nil), s, b) // levee_request_duration_seconds, levee_requests_total
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// README end

	_ = p.Run(context.Background(), func(context.Context) error { return nil })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "levee_policy_state") || strings.HasPrefix(l, "levee_slo_events_total") ||
			strings.HasPrefix(l, "levee_requests_total") {
			fmt.Println(l)
		}
	}
	// Output:
	// levee_policy_state{name="payments",policy="breaker",state="closed"} 1
	// levee_requests_total{name="payments",outcome="failure"} 0
	// levee_requests_total{name="payments",outcome="ignored"} 0
	// levee_requests_total{name="payments",outcome="success"} 1
	// levee_slo_events_total{good="false",slo="checkout"} 0
	// levee_slo_events_total{good="true",slo="checkout"} 1
}

// TestREADMESnippet checks that the README's observe snippet is the code
// that Example_readme compiles and runs, line for line (comments and
// alignment aside).
func TestREADMESnippet(t *testing.T) {
	got, err := readmetest.Block("../README.md", "### Observability — `observe`", "go")
	if err != nil {
		t.Fatal(err)
	}
	want, err := readmetest.Between("readme_test.go", "// README begin", "// README end")
	if err != nil {
		t.Fatal(err)
	}
	if d := readmetest.Diff(readmetest.Lines(got, "//"), readmetest.Lines(want, "//")); d != "" {
		t.Errorf("README observe snippet against Example_readme: %s", d)
	}
}
