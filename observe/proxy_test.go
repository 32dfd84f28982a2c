package observe_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/observe"
)

// scrapeHandler reads h over a real HTTP server, as Prometheus would.
func scrapeHandler(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s: %s", resp.Status, body)
	}
	return string(body)
}

func TestProxyMetricsScrape(t *testing.T) {
	m, err := observe.NewProxyMetrics(observe.MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := breaker.New(breaker.Config{Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	m.Policies().Register(b)
	r := m.Route("api", "app", []string{"breaker_open", "upstream_timeout"})
	r.Observe(200, "", 3*time.Millisecond)
	r.Observe(204, "", time.Millisecond)
	r.Observe(503, "breaker_open", 0)
	r.Observe(502, "made_up", 0)     // learned
	r.Observe(502, "Bad Reason!", 0) // not a label value: other
	r.Observe(0, "", time.Second)
	tg := m.Target("app", "127.0.0.1:9000")
	tg.Observe(200)
	tg.Observe(504)
	m.Resolved("app", nil, 3)
	m.Resolved("app", errors.New("no such host"), 2)
	var nilRoute *observe.RouteMetrics
	nilRoute.Observe(200, "", 0) // records nothing, never panics

	text := scrapeHandler(t, m.Handler())
	wantSeries(t, text,
		`levee_gateway_requests_total{reason="none",route="api",status_class="2xx",upstream="app"} 2`,
		`levee_gateway_requests_total{reason="breaker_open",route="api",status_class="5xx",upstream="app"} 1`,
		`levee_gateway_requests_total{reason="made_up",route="api",status_class="5xx",upstream="app"} 1`,
		`levee_gateway_requests_total{reason="other",route="api",status_class="5xx",upstream="app"} 1`,
		`levee_gateway_requests_total{reason="none",route="api",status_class="none",upstream="app"} 1`,
		`levee_gateway_request_duration_seconds_count{route="api",status_class="2xx",upstream="app"} 2`,
		`levee_gateway_request_duration_seconds_bucket{route="api",status_class="2xx",upstream="app",le="0.0025"} 1`,
		`levee_gateway_target_requests_total{status_class="2xx",target="127.0.0.1:9000",upstream="app"} 1`,
		`levee_gateway_target_requests_total{status_class="5xx",target="127.0.0.1:9000",upstream="app"} 1`,
		`levee_policy_state{name="app",policy="breaker",state="closed"} 1`,
		`levee_gateway_resolutions_total{result="ok",upstream="app"} 1`,
		`levee_gateway_resolutions_total{result="error",upstream="app"} 1`,
		`levee_gateway_upstream_targets{upstream="app"} 2`,
	)
	if !strings.Contains(text, "go_goroutines") || !strings.Contains(text, "process_") {
		t.Errorf("scrape lacks the Go and process collectors:\n%s", text)
	}
}

func TestProxyMetricsObserveAllocs(t *testing.T) {
	m, err := observe.NewProxyMetrics(observe.MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := m.Route("api", "app", []string{"breaker_open"})
	tg := m.Target("app", "a:1")
	r.Observe(200, "", time.Millisecond) // the series exist from here
	tg.Observe(200)
	if n := testing.AllocsPerRun(100, func() {
		r.Observe(200, "", time.Millisecond)
		tg.Observe(200)
	}); n != 0 {
		t.Errorf("Observe allocates %v times per call, want 0", n)
	}
}

func BenchmarkRouteMetricsObserve(b *testing.B) {
	m, err := observe.NewProxyMetrics(observe.MetricsOptions{})
	if err != nil {
		b.Fatal(err)
	}
	r := m.Route("api", "app", []string{"breaker_open"})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Observe(200, "", time.Millisecond)
		}
	})
}

// TestProxyMetricsReasonsBounded checks that a route learns at most 30
// reasons and counts the rest as "other".
func TestProxyMetricsReasonsBounded(t *testing.T) {
	m, err := observe.NewProxyMetrics(observe.MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := m.Route("api", "app", nil)
	for i := range 50 {
		r.Observe(503, fmt.Sprintf("reason_%d", i), 0)
	}
	text := scrapeHandler(t, m.Handler())
	learned := strings.Count(text, `levee_gateway_requests_total{reason="reason_`)
	if learned != 30 {
		t.Errorf("%d reasons exported, want 30", learned)
	}
	wantSeries(t, text, `levee_gateway_requests_total{reason="other",route="api",status_class="5xx",upstream="app"} 20`)
}
