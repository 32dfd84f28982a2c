package proxy

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/gateway/config"
)

// gatewayWith is gateway with the Proxy's options given.
func gatewayWith(t *testing.T, yaml string, opts Options) *httptest.Server {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), config.Options{})
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	p, err := New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h, err := p.Handler("public")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); p.Close() })
	return srv
}

// TestFaultAbortOnlyWithHeader aborts every request that carries the
// header, and none that does not.
func TestFaultAbortOnlyWithHeader(t *testing.T) {
	up, hits := countingUpstream(t, "a", always(0))
	gw := gatewayWith(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: svc, targets: [{url: %q}]}]
routes:
  - name: all
    upstream: svc
    policies:
      fault: {abort: {status: 418, percent: 100%%}, header: X-Chaos}
`, up), Options{})
	resp, _ := get(t, gw.URL+"/")
	if resp.StatusCode != http.StatusOK || hits.Load() != 1 {
		t.Fatalf("without the header: status %d, %d upstream hits; want 200, 1", resp.StatusCode, hits.Load())
	}
	resp, body := send(t, http.MethodGet, gw.URL+"/", "", map[string]string{"X-Chaos": "1"})
	checkProblem(t, resp, body, http.StatusTeapot, ReasonFaultAbort)
	if hits.Load() != 1 {
		t.Errorf("an aborted request reached the upstream")
	}
}

// TestFaultAbortPercentSeeded aborts 30% of requests with a fixed seed:
// about that share is aborted, the rest reach the upstream, and a second
// gateway with the same seed aborts exactly the same requests.
func TestFaultAbortPercentSeeded(t *testing.T) {
	up, hits := countingUpstream(t, "a", always(0))
	yaml := fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: svc, targets: [{url: %q}]}]
routes:
  - name: all
    upstream: svc
    policies:
      fault: {abort: {status: 503, percent: 30%%}}
`, up)
	const n = 200
	run := func() []int {
		gw := gatewayWith(t, yaml, Options{Seed: 42})
		var statuses []int
		for range n {
			resp, _ := get(t, gw.URL+"/")
			statuses = append(statuses, resp.StatusCode)
		}
		return statuses
	}
	first := run()
	aborted := 0
	for _, s := range first {
		if s == http.StatusServiceUnavailable {
			aborted++
		}
	}
	if aborted < n*20/100 || aborted > n*40/100 {
		t.Errorf("%d of %d requests aborted, want about 30%%", aborted, n)
	}
	if got := hits.Load(); got != int64(n-aborted) {
		t.Errorf("upstream hits = %d, want %d (the requests not aborted)", got, n-aborted)
	}
	if second := run(); !slices.Equal(first, second) {
		t.Errorf("the same seed aborted other requests the second time")
	}
}

// TestFaultDelay delays every request by 2s on a fake clock: the answer
// waits for the clock, then comes from the upstream.
func TestFaultDelay(t *testing.T) {
	up, hits := countingUpstream(t, "a", always(0))
	clk := clocktest.New(time.Now())
	gw := gatewayWith(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: svc, targets: [{url: %q}]}]
routes:
  - name: all
    upstream: svc
    timeout: 10s
    policies:
      fault: {delay: {duration: 2s, percent: 100%%}}
`, up), Options{Clock: clk})
	done := make(chan int, 1)
	go func() {
		resp, err := http.Get(gw.URL + "/")
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	waiting := make(chan struct{})
	go func() { clk.BlockUntil(1); close(waiting) }()
	select {
	case <-waiting:
	case s := <-done:
		t.Fatalf("answered %d without the delay", s)
	}
	if hits.Load() != 0 {
		t.Fatal("the upstream was called during the delay")
	}
	clk.Advance(2 * time.Second)
	if s := <-done; s != http.StatusOK || hits.Load() != 1 {
		t.Errorf("after the delay: status %d, %d hits; want 200, 1", s, hits.Load())
	}
}
