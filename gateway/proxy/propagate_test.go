package proxy

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/levee-go/levee/leveehttp"
)

// TestBudgetPropagated checks the upstream is told the time left: the
// route's timeout, the client's own shorter budget, or the per-try timeout;
// the client's criticality goes along.
func TestBudgetPropagated(t *testing.T) {
	up := echoUpstream(t, "a")
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: svc, targets: [{url: %q}]}]
routes:
  - name: plain
    upstream: svc
    timeout: 5s
    match: {path_prefix: /plain}
  - name: pertry
    upstream: svc
    timeout: 10s
    match: {path_prefix: /pertry}
    policies:
      retry: {per_try_timeout: 300ms}
`, hostPort(up)), nil)
	for _, tc := range []struct {
		name, path string
		header     map[string]string
		lo, hi     time.Duration
	}{
		{"route timeout", "/plain", nil, 4 * time.Second, 5 * time.Second},
		{"client budget", "/plain", map[string]string{"X-Request-Timeout": "2s", "X-Criticality": "SHEDDABLE"}, time.Second, 2 * time.Second},
		{"client grpc budget", "/plain", map[string]string{"Grpc-Timeout": "1500m"}, time.Second, 1500 * time.Millisecond},
		{"per-try timeout", "/pertry", nil, 200 * time.Millisecond, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := send(t, http.MethodGet, gw.URL+tc.path, "", tc.header)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			s := decodeSeen(t, body)
			for _, h := range []string{leveehttp.HeaderRequestTimeout, leveehttp.HeaderGRPCTimeout} {
				vs := s.Header.Values(h)
				if len(vs) != 1 {
					t.Fatalf("upstream got %s %q, want one value", h, vs)
				}
				d, err := leveehttp.ParseTimeout(vs[0])
				if err != nil || d <= tc.lo || d > tc.hi {
					t.Errorf("upstream got %s: %s = %v (%v), want in (%v, %v]", h, vs[0], d, err, tc.lo, tc.hi)
				}
			}
			if c := tc.header["X-Criticality"]; c != "" && s.Header.Get("X-Criticality") != c {
				t.Errorf("upstream got X-Criticality %q, want %q", s.Header.Get("X-Criticality"), c)
			}
		})
	}
}

// TestClientBudgetCapsRoute sends a 50ms budget to a route of 10s whose
// upstream hangs: the gateway answers 504 when the client's budget ends.
func TestClientBudgetCapsRoute(t *testing.T) {
	up, _ := countingUpstream(t, "a", func(_ int64, r *http.Request) int {
		<-r.Context().Done()
		return 0
	})
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: svc, targets: [{url: %q}]}]
routes: [{name: all, upstream: svc, timeout: 10s}]
`, up), nil)
	req, _ := http.NewRequest(http.MethodGet, gw.URL+"/", nil)
	req.Header.Set("X-Request-Timeout", "50ms")
	client := &http.Client{Timeout: 5 * time.Second} // far below the route's 10s
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("no answer within 5s: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 504", resp.StatusCode)
	}
}
