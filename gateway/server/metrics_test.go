package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/server"
	"github.com/levee-go/levee/lifecycle"
)

// TestMetrics drives requests through a running gateway, two answered by
// the upstream and the rest refused by its breaker, and reads them back
// from the admin address's /metrics, as Prometheus would.
func TestMetrics(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer up.Close()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: app
    targets: [{url: %q}]
    breaker: {consecutive_failures: 2, open_duration: 1m}
routes: [{name: all, upstream: app}]
admin: {address: "127.0.0.1:0"}
`, up.URL)), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	addrs := make(chan [2]string, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, cfg, server.Options{
			Logger:    slog.New(addrHandler{slog.NewTextHandler(io.Discard, nil), addrs}),
			Lifecycle: lifecycle.Config{GracePeriod: 5 * time.Second, DrainDelay: -1, Signals: []os.Signal{}},
		})
	}()
	bound := map[string]string{}
	for len(bound) < 2 {
		select {
		case a := <-addrs:
			bound[a[0]] = a[1]
		case err := <-done:
			t.Fatalf("Run returned before listening: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("listeners not up within 10s: %v", bound)
		}
	}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// Before any request the breaker's state is exported.
	if _, text := get("http://" + bound["admin"] + "/metrics"); !strings.Contains(text, `levee_policy_state{name="app",policy="breaker",state="closed"} 1`) {
		t.Errorf("/metrics before traffic lacks the closed breaker:\n%s", text)
	}
	get("http://" + bound["public"] + "/")
	get("http://" + bound["public"] + "/ok")
	get("http://" + bound["public"] + "/fail")
	get("http://" + bound["public"] + "/fail") // the breaker opens
	for range 3 {
		if code, _ := get("http://" + bound["public"] + "/"); code != http.StatusServiceUnavailable {
			t.Errorf("GET with the breaker open = %d, want 503", code)
		}
	}
	code, text := get("http://" + bound["admin"] + "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d, want 200", code)
	}
	target := strings.TrimPrefix(up.URL, "http://")
	for _, want := range []string{
		`levee_gateway_requests_total{reason="none",route="all",status_class="2xx",upstream="app"} 2`,
		`levee_gateway_requests_total{reason="none",route="all",status_class="5xx",upstream="app"} 2`,
		`levee_gateway_requests_total{reason="breaker_open",route="all",status_class="5xx",upstream="app"} 3`,
		`levee_gateway_request_duration_seconds_count{route="all",status_class="5xx",upstream="app"} 5`,
		`levee_gateway_target_requests_total{status_class="2xx",target="` + target + `",upstream="app"} 2`,
		`levee_gateway_target_requests_total{status_class="5xx",target="` + target + `",upstream="app"} 2`,
		`levee_policy_state{name="app",policy="breaker",state="open"} 1`,
		`levee_policy_state{name="app",policy="breaker",state="closed"} 0`,
		`levee_rejections_total{name="app",policy="breaker",reason="open"} 3`,
		`levee_policy_state{name="levee",policy="lifecycle",state="running"} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}
