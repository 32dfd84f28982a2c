package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/observe"
)

// hostsResolver answers look-ups from a table the test edits, as a DNS
// server whose records change would; a name set to fail answers an error.
type hostsResolver struct {
	mu      sync.Mutex
	records map[string][]string
	fail    bool
	asked   atomic.Int64
}

func (h *hostsResolver) set(name string, ips ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records[name], h.fail = ips, false
}

func (h *hostsResolver) failing() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail = true
}

func (h *hostsResolver) LookupHost(_ context.Context, name string) ([]string, error) {
	h.asked.Add(1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail {
		return nil, &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}
	}
	ips, ok := h.records[name]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	return append([]string(nil), ips...), nil
}

// loopbackPair starts one server on 127.0.0.2 and one on 127.0.0.3, on the
// same port, as two instances behind one DNS name would be. Each names
// itself in X-Upstream; handler decides the rest.
func loopbackPair(t *testing.T, handler func(name string, w http.ResponseWriter, r *http.Request)) (port string) {
	t.Helper()
	for range 20 {
		a, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Skipf("no 127.0.0.2 on this machine's loopback: %v", err)
		}
		_, port, _ = net.SplitHostPort(a.Addr().String())
		b, err := net.Listen("tcp", "127.0.0.3:"+port)
		if err != nil {
			a.Close()
			continue // the port is taken on 127.0.0.3; try another
		}
		for _, l := range []struct {
			ln   net.Listener
			name string
		}{{a, "b2"}, {b, "b3"}} {
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Upstream", l.name)
				handler(l.name, w, r)
			}))
			srv.Listener.Close()
			srv.Listener = l.ln
			srv.Start()
			t.Cleanup(srv.Close)
		}
		return port
	}
	t.Fatal("no port free on both 127.0.0.2 and 127.0.0.3")
	return ""
}

// TestResolveIntervalFollowsDNS runs an upstream given by host name over
// two real loopback instances while its DNS records change, stepping a
// fake clock through resolve_interval: a new address takes traffic, a
// removed one takes no more while its request in flight finishes, an
// address that stays keeps its outlier ejection, and a failed look-up
// keeps the last good addresses and is counted.
func TestResolveIntervalFollowsDNS(t *testing.T) {
	var fail3 atomic.Bool // b3 answers 500
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	port := loopbackPair(t, func(name string, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			arrived <- struct{}{}
			<-release
		}
		if name == "b3" && fail3.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
		io.WriteString(w, name)
	})
	dns := &hostsResolver{records: map[string][]string{}}
	dns.set("app.test", "127.0.0.2")
	clk := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg, err := config.Parse(fmt.Appendf(nil, `
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: app
    targets: [{url: "http://app.test:%s"}]
    resolve_interval: 10s
    outlier_detection: {consecutive_5xx: 2, base_ejection_time: 60s, max_ejection_percent: 100%%}
routes: [{name: all, upstream: app, timeout: 10s}]
`, port), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := observe.NewProxyMetrics(observe.MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, Options{Clock: clk, Resolver: dns, Metrics: m, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(p)
	defer func() { gw.Close(); p.Close() }()
	round := func(n int) map[string]int {
		t.Helper()
		got := map[string]int{}
		for range n {
			resp, _ := get(t, gw.URL+"/")
			got[fmt.Sprintf("%s %d", resp.Header.Get("X-Upstream"), resp.StatusCode)]++
		}
		return got
	}
	check := func(step string, got map[string]int, want map[string]int) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: answers %v, want %v", step, got, want)
		}
	}

	// At start: the name's one address.
	check("start", round(4), map[string]int{"b2 200": 4})

	// A request in flight on b2 while DNS moves the name to b3.
	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get(gw.URL + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- fmt.Sprintf("%d %s", resp.StatusCode, body)
	}()
	<-arrived
	dns.set("app.test", "127.0.0.3")
	clk.Advance(10 * time.Second)
	check("moved to b3", round(4), map[string]int{"b3 200": 4})
	close(release)
	if got := <-slow; got != "200 b2" {
		t.Errorf("the request in flight on the removed address ended %q, want 200 b2", got)
	}

	// b3 fails twice and is ejected (60s); when b2 comes back, b3 stays
	// ejected: its state was kept across the change.
	fail3.Store(true)
	check("b3 failing", round(2), map[string]int{"b3 500": 2})
	dns.set("app.test", "127.0.0.2", "127.0.0.3")
	clk.Advance(10 * time.Second)
	check("b2 back, b3 still ejected", round(4), map[string]int{"b2 200": 4})

	// The DNS server fails: both addresses stay, and once b3's ejection
	// ends it takes its share again.
	fail3.Store(false)
	dns.failing()
	clk.Advance(60 * time.Second)
	check("look-up failed, last good kept", round(4), map[string]int{"b2 200": 2, "b3 200": 2})

	if n := dns.asked.Load(); n < 4 {
		t.Errorf("the resolver was asked %d times, want at least 4 (start and three intervals)", n)
	}
	text := scrape(t, m.Handler())
	for _, want := range []string{
		`levee_gateway_resolutions_total{result="error",upstream="app"}`,
		`levee_gateway_resolutions_total{result="ok",upstream="app"} 3`,
		`levee_gateway_upstream_targets{upstream="app"} 2`,
		`levee_gateway_target_requests_total{status_class="2xx",target="127.0.0.3:` + port + `",upstream="app"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestResolveFailsAtStart keeps a name that does not resolve at start as
// the target, resolved by the dialer, and replaces it once DNS answers.
func TestResolveFailsAtStart(t *testing.T) {
	up := echoUpstream(t, "a")
	_, port, _ := net.SplitHostPort(hostPort(up))
	dns := &hostsResolver{records: map[string][]string{}}
	clk := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg, err := config.Parse(fmt.Appendf(nil, `
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [{url: "http://late.invalid:%s"}], resolve_interval: 5s}]
routes: [{name: all, upstream: app, timeout: 2s}]
`, port), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, Options{Clock: clk, Resolver: dns, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatalf("New with a name that does not resolve: %v, want it to start", err)
	}
	gw := httptest.NewServer(p)
	defer func() { gw.Close(); p.Close() }()
	resp, body := get(t, gw.URL+"/")
	checkProblem(t, resp, body, http.StatusBadGateway, ReasonConnectFailure)
	dns.set("late.invalid", "127.0.0.1")
	clk.Advance(5 * time.Second)
	if resp, body := get(t, gw.URL+"/"); resp.StatusCode != http.StatusOK || resp.Header.Get("X-Upstream") != "a" {
		t.Errorf("after the name resolved: status %d from %q (%s), want 200 from a", resp.StatusCode, resp.Header.Get("X-Upstream"), body)
	}
}
