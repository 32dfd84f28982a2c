package reload_test

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/levee-go/levee/gateway/reload"
	"github.com/levee-go/levee/observe"
)

// TestMetricsCounted: every attempt is counted by source and result, and
// the running version is exported.
func TestMetricsCounted(t *testing.T) {
	m, err := observe.NewProxyMetrics(observe.MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := upstream(t, 200, "a"), upstream(t, 200, "b")
	docA, docB := doc([]string{a.URL}, ""), doc([]string{b.URL}, "")
	c, _ := start(t, docA, reload.Options{Metrics: m.Reloads()})
	ctx := context.Background()
	c.Apply(ctx, []byte(docA), reload.ApplyOptions{})
	c.Apply(ctx, []byte("listeners: nope"), reload.ApplyOptions{})
	c.Apply(ctx, []byte(docB), reload.ApplyOptions{Source: reload.SourceEtcd})

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`levee_gateway_reloads_total{result="unchanged",source="admin"} 1`,
		`levee_gateway_reloads_total{result="failed",source="admin"} 1`,
		`levee_gateway_reloads_total{result="applied",source="etcd"} 1`,
		`levee_gateway_config_version 2`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
