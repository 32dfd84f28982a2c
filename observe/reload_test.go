package observe_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/levee-go/levee/observe"
)

func TestReloadMetrics(t *testing.T) {
	m, err := observe.NewProxyMetrics(observe.MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := m.Reloads()
	if r == nil || m.Reloads() != r {
		t.Fatalf("Reloads() = %p then %p, want one ReloadMetrics", r, m.Reloads())
	}
	r.Attempt("file", "applied")
	r.Attempt("admin", "failed")
	r.Attempt("admin", "failed")
	r.Applied(7, time.Unix(1_700_000_000, 0), 20*time.Millisecond)
	var nilMetrics *observe.ReloadMetrics
	nilMetrics.Attempt("file", "applied") // records nothing, does not panic

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`levee_gateway_reloads_total{result="applied",source="file"} 1`,
		`levee_gateway_reloads_total{result="failed",source="admin"} 2`,
		`levee_gateway_config_version 7`,
		`levee_gateway_config_applied_timestamp_seconds 1.7e+09`,
		`levee_gateway_reload_duration_seconds_count 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
