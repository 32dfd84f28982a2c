package dashboard_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/gateway/dashboard"
)

// event is one Server-Sent Event as read off the wire.
type event struct {
	retry, id, name, data string
}

// readEvent reads the next event from r.
func readEvent(t testing.TB, r *bufio.Reader) event {
	t.Helper()
	var e event
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v (event so far %+v)", err, e)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return e
		}
		k, v, _ := strings.Cut(line, ": ")
		switch k {
		case "retry":
			e.retry = v
		case "id":
			e.id = v
		case "event":
			e.name = v
		case "data":
			e.data = v
		default:
			t.Fatalf("stream line %q is not an SSE field", line)
		}
	}
}

// counting is a Source whose route reports how many snapshots were taken.
type counting struct{ n atomic.Int64 }

func (c *counting) Snapshot(now time.Time) dashboard.Snapshot {
	n := c.n.Add(1)
	return dashboard.Snapshot{Time: now, Routes: []dashboard.Route{{Name: "api", Upstream: "app", RequestsPerSecond: float64(n)}}}
}

func stream(t testing.TB, url string) (*bufio.Reader, func()) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET %s: %s, Content-Type %q; want 200 text/event-stream", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	return bufio.NewReader(resp.Body), func() { resp.Body.Close() }
}

// TestStream checks the stream's protocol: a snapshot first with the retry
// delay, one update per interval of the clock, and a reconnected viewer
// starting again with a snapshot that carries the chart points so far.
func TestStream(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	src := &counting{}
	d, err := dashboard.New(dashboard.Options{Source: src, Clock: clk, Retry: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	srv := httptest.NewServer(d.Events())
	defer srv.Close()

	r, stop := stream(t, srv.URL)
	first := readEvent(t, r)
	if first.name != "snapshot" || first.retry != "3000" || first.id != "1" {
		t.Fatalf("first event = %q id %q retry %q, want snapshot id 1 retry 3000", first.name, first.id, first.retry)
	}
	var st dashboard.Stream
	if err := json.Unmarshal([]byte(first.data), &st); err != nil {
		t.Fatalf("snapshot data: %v", err)
	}
	if st.Interval != 1 || st.State == nil || len(st.State.Routes) != 1 || st.State.Routes[0].RequestsPerSecond != 1 || len(st.History) != 1 {
		t.Fatalf("snapshot = %+v, want interval 1, the first sample and one point", st)
	}
	for i := 2; i <= 3; i++ {
		clk.BlockUntil(1) // the sampler's timer
		clk.Advance(time.Second)
		e := readEvent(t, r)
		var s dashboard.Snapshot
		if err := json.Unmarshal([]byte(e.data), &s); err != nil {
			t.Fatalf("update data: %v", err)
		}
		if e.name != "update" || e.id != fmt.Sprint(i) || s.Routes[0].RequestsPerSecond != float64(i) {
			t.Fatalf("event after %d s = %q id %q rps %v, want update id %d rps %d", i-1, e.name, e.id, s.Routes[0].RequestsPerSecond, i, i)
		}
	}
	stop()

	r, stop = stream(t, srv.URL)
	defer stop()
	again := readEvent(t, r)
	if err := json.Unmarshal([]byte(again.data), &st); err != nil {
		t.Fatal(err)
	}
	if again.name != "snapshot" || len(st.History) < 3 || st.History[2].Routes["api"][0] != 3 {
		t.Fatalf("on reconnecting: %q with %d points (%+v), want a snapshot with the 3 points so far", again.name, len(st.History), st.History)
	}
}

// TestCaps fills every list far past its cap and checks that an event
// stays under the documented 256 KiB and names what was cut.
func TestCaps(t *testing.T) {
	long := strings.Repeat("x", 60) // names as long as configurations use
	big := func(now time.Time) dashboard.Snapshot {
		s := dashboard.Snapshot{Time: now, Config: &dashboard.Config{Version: 1}}
		var counts []dashboard.Count
		for i := range 100 {
			counts = append(counts, dashboard.Count{Name: fmt.Sprint(long, i), Value: 1e9})
		}
		var trans []dashboard.Transition
		for i := range 100 {
			trans = append(trans, dashboard.Transition{Time: now, From: "closed", To: "open", Reason: fmt.Sprint("failure_rate", i), Value: 99.9, Threshold: 50})
		}
		br := func() *dashboard.Breaker {
			return &dashboard.Breaker{State: "open", Since: now, LastTrip: &dashboard.Trip{Reason: "failure_rate", Error: long}, Transitions: append([]dashboard.Transition(nil), trans...)}
		}
		for i := range 120 {
			name := fmt.Sprint(long, i)
			s.Routes = append(s.Routes, dashboard.Route{Name: name, Upstream: name, Refusals: counts})
			s.Limits = append(s.Limits, dashboard.Limit{Route: name, Kind: "rate", TopKeys: counts, Redis: "fallback"})
			s.Overload = append(s.Overload, dashboard.Overload{Route: name, Shed: counts})
			s.SLOs = append(s.SLOs, dashboard.SLO{Name: name, Burn: make([]dashboard.Burn, 100), Firing: []string{"page"}})
			s.Config.History = append(s.Config.History, dashboard.ConfigVersion{Version: i, Hash: long, Reason: long})
			u := dashboard.Upstream{Name: name, Breaker: br()}
			for j := range 20 {
				u.Targets = append(u.Targets, dashboard.Target{Address: fmt.Sprint(long, j), Health: "unhealthy", Breaker: br()})
			}
			s.Upstreams = append(s.Upstreams, u)
		}
		return s
	}
	d, err := dashboard.New(dashboard.Options{Source: dashboard.SourceFunc(big), Clock: clocktest.New(time.Unix(0, 0))})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	srv := httptest.NewServer(d.Events())
	defer srv.Close()
	r, stop := stream(t, srv.URL)
	defer stop()
	e := readEvent(t, r)
	var st dashboard.Stream
	if err := json.Unmarshal([]byte(e.data), &st); err != nil {
		t.Fatal(err)
	}
	state, err := json.Marshal(st.State)
	if err != nil {
		t.Fatal(err)
	}
	const bound = 256 << 10 // Caps.Bytes
	if len(state) > bound {
		t.Errorf("a full update is %d bytes, want at most %d", len(state), bound)
	}
	if len(e.data) > bound+100<<10 {
		t.Errorf("a full first event is %d bytes, want at most %d", len(e.data), bound+100<<10)
	}
	t.Logf("a full update: %d bytes; the first event: %d bytes", len(state), len(e.data))
	s := st.State
	if len(s.Routes) < 1 || len(s.Routes) >= 50 || len(s.Upstreams) >= 30 || len(s.Upstreams[0].Targets) >= 10 ||
		len(s.Upstreams[0].Breaker.Transitions) >= 10 || len(s.Routes[0].Refusals) >= 10 || len(s.SLOs) >= 20 || len(s.Config.History) >= 10 {
		t.Errorf("caps not halved to fit: %d routes, %d upstreams, %d targets, %d transitions, %d refusals, %d SLOs, %d versions",
			len(s.Routes), len(s.Upstreams), len(s.Upstreams[0].Targets), len(s.Upstreams[0].Breaker.Transitions), len(s.Routes[0].Refusals), len(s.SLOs), len(s.Config.History))
	}
	tr := s.Upstreams[0].Breaker.Transitions
	if got := tr[len(tr)-1].Reason; got != "failure_rate99" {
		t.Errorf("last transition kept = %q, want the latest, failure_rate99", got)
	}
	if len(s.Truncated) == 0 || s.Truncated[0] != "bytes" || len(s.Truncated) > 16 {
		t.Errorf("Truncated = %q, want bytes first and each kind of list once", s.Truncated)
	}

	// Within the byte cap, each list is cut to its own cap and named.
	small := func(now time.Time) dashboard.Snapshot {
		s := big(now)
		s.Upstreams = s.Upstreams[:2]
		for i := range s.Upstreams {
			s.Upstreams[i].Targets = s.Upstreams[i].Targets[:12]
			for j := range s.Upstreams[i].Targets {
				s.Upstreams[i].Targets[j].Breaker = nil
			}
		}
		s.Limits, s.Overload = nil, nil
		for i := range s.Routes {
			s.Routes[i].Refusals = s.Routes[i].Refusals[:12]
		}
		return s
	}
	d2, err := dashboard.New(dashboard.Options{Source: dashboard.SourceFunc(small), Clock: clocktest.New(time.Unix(0, 0))})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	srv2 := httptest.NewServer(d2.Events())
	defer srv2.Close()
	r2, stop2 := stream(t, srv2.URL)
	defer stop2()
	if err := json.Unmarshal([]byte(readEvent(t, r2).data), &st); err != nil {
		t.Fatal(err)
	}
	s = st.State
	if len(s.Routes) != 50 || len(s.Upstreams[0].Targets) != 10 || len(s.Upstreams[0].Breaker.Transitions) != 10 ||
		len(s.Routes[0].Refusals) != 10 || len(s.SLOs) != 20 || len(s.Config.History) != 10 || len(st.History[0].Routes) != 8 {
		t.Errorf("caps not applied: %d routes, %d targets, %d transitions, %d refusals, %d SLOs, %d versions, %d charted",
			len(s.Routes), len(s.Upstreams[0].Targets), len(s.Upstreams[0].Breaker.Transitions), len(s.Routes[0].Refusals), len(s.SLOs), len(s.Config.History), len(st.History[0].Routes))
	}
	for _, want := range []string{"routes", "upstreams[].targets", "routes[].refusals", "config.history", "slos"} {
		found := false
		for _, got := range s.Truncated {
			found = found || got == want
		}
		if !found {
			t.Errorf("Truncated lacks %q", want)
		}
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	src := &counting{}
	for _, tc := range []struct {
		name string
		opts dashboard.Options
		want string
	}{
		{"no source", dashboard.Options{}, "Options.Source is nil"},
		{"negative interval", dashboard.Options{Source: src, Interval: -time.Second}, "Options.Interval -1s is negative"},
		{"negative retry", dashboard.Options{Source: src, Retry: -time.Second}, "Options.Retry -1s is negative"},
		{"negative cap", dashboard.Options{Source: src, Caps: dashboard.Caps{Targets: -1}}, "Options.Caps.Targets -1 is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dashboard.New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New(%+v) = %v, want an error containing %q", tc.opts, err, tc.want)
			}
		})
	}
}

// TestAssets checks the page and its assets are served from the binary,
// with a policy that allows nothing from elsewhere, and that they refer to
// nothing elsewhere.
func TestAssets(t *testing.T) {
	d, err := dashboard.New(dashboard.Options{Source: &counting{}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	mux := http.NewServeMux()
	mux.Handle("/dashboard/", d.Handler())
	mux.Handle("/dashboard", d.Handler())
	mux.Handle("/api/v1/events", d.Events())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		method, path string
		status       int
		ctype        string
	}{
		{"GET", "/dashboard/", 200, "text/html; charset=utf-8"},
		{"GET", "/dashboard/app.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/dashboard/app.css", 200, "text/css; charset=utf-8"},
		{"GET", "/dashboard/favicon.svg", 200, "image/svg+xml"},
		{"GET", "/dashboard", 301, ""},
		{"GET", "/dashboard/missing.js", 404, ""},
		{"POST", "/dashboard/", 405, ""},
		{"POST", "/api/v1/events", 405, ""},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
			continue
		}
		if tc.status != 200 {
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != tc.ctype {
			t.Errorf("%s Content-Type = %q, want %q", tc.path, got, tc.ctype)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self';") {
			t.Errorf("%s Content-Security-Policy = %q, want default-src 'self' first", tc.path, csp)
		}
		for _, far := range []string{"http://", "https://", "//cdn", "@import"} {
			if i := strings.Index(string(body), far); i >= 0 && !strings.Contains(string(body[max(i-10, 0):i+len(far)+20]), "www.w3.org/2000/svg") {
				t.Errorf("%s refers to %q at byte %d; the page must load nothing from elsewhere", tc.path, far, i)
			}
		}
	}
}
