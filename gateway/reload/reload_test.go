package reload_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/reload"
)

// upstream starts a loopback server answering body with status.
func upstream(t *testing.T, status int, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// start builds a Controller from doc and serves its "public" listener on
// loopback.
func start(t *testing.T, doc string, opts reload.Options) (*reload.Controller, string) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	opts.Proxy.Logger = opts.Logger
	c, err := reload.New(nil, []byte(doc), reload.SourceFile, opts)
	if err != nil {
		t.Fatalf("reload.New: %v", err)
	}
	h, err := c.Handler("public")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); c.Close() })
	return c, srv.URL
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// doc is a configuration with one route to one upstream of the given
// targets, and extra YAML appended at the top level.
func doc(targets []string, extra string) string {
	var ts []string
	for _, tg := range targets {
		ts = append(ts, fmt.Sprintf("{url: %q}", tg))
	}
	return fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [%s]}]
routes: [{name: all, upstream: app}]
%s`, strings.Join(ts, ", "), extra)
}

// TestApply: an identical document is a no-op; a stale If-Match and a
// document that is not valid change nothing and say why; a valid one
// swaps in and enters the history; Rollback applies an earlier one again.
func TestApply(t *testing.T) {
	a, b := upstream(t, 200, "a"), upstream(t, 200, "b")
	docA, docB := doc([]string{a.URL}, ""), doc([]string{b.URL}, "")
	c, url := start(t, docA, reload.Options{})
	ctx := context.Background()
	v1 := c.Current()
	if v1.Version != 1 || v1.Hash != reload.Hash([]byte(docA)) || v1.Source != reload.SourceFile {
		t.Fatalf("Current() = %+v, want version 1 of docA from the file", v1)
	}

	rep, err := c.Apply(ctx, []byte(docA), reload.ApplyOptions{})
	if err != nil || !rep.Unchanged || c.Current().Version != 1 {
		t.Fatalf("Apply(same) = %+v, %v; want a no-op", rep, err)
	}
	if _, err := c.Apply(ctx, []byte(docB), reload.ApplyOptions{IfMatch: `"0000"`}); !errors.Is(err, reload.ErrStale) {
		t.Fatalf("Apply(stale If-Match) = %v, want ErrStale", err)
	}
	bad := strings.Replace(docB, "routes: [{name: all, upstream: app}]", "routes: [{name: all, upstream: nowhere}]", 1)
	_, err = c.Apply(ctx, []byte(bad), reload.ApplyOptions{})
	var ps config.Problems
	if !errors.As(err, &ps) || ps[0].Path != "routes[0].upstream" || ps[0].Line == 0 {
		t.Fatalf("Apply(invalid) = %v, want config.Problems at routes[0].upstream with a line", err)
	}
	st := c.Status()
	if st.Last == nil || st.Last.Result != "failed" || len(st.Last.Problems) == 0 || st.Current.Version != 1 {
		t.Fatalf("Status() after a failed apply = %+v", st)
	}
	if _, body := get(t, url); body != "a" {
		t.Fatalf("after failed applies the gateway answers %q, want the running a", body)
	}

	rep, err = c.Apply(ctx, []byte(docB), reload.ApplyOptions{IfMatch: `W/"` + v1.Hash + `"`})
	if err != nil || rep.Unchanged || rep.Version.Version != 2 || rep.Previous != 1 {
		t.Fatalf("Apply(docB) = %+v, %v; want version 2 replacing 1", rep, err)
	}
	if _, body := get(t, url); body != "b" {
		t.Fatalf("after the apply the gateway answers %q, want b", body)
	}
	rep, err = c.Rollback(ctx, 1, false)
	if err != nil || rep.Version.Version != 3 || rep.Version.Hash != v1.Hash || rep.Version.Source != reload.SourceRollback {
		t.Fatalf("Rollback(1) = %+v, %v; want version 3 with version 1's document", rep, err)
	}
	if _, body := get(t, url); body != "a" {
		t.Fatalf("after the rollback the gateway answers %q, want a", body)
	}
	if _, err := c.Rollback(ctx, 99, false); !errors.Is(err, reload.ErrNoVersion) {
		t.Fatalf("Rollback(99) = %v, want ErrNoVersion", err)
	}
	h := c.History()
	if len(h) != 3 || h[0].Version != 1 || h[2].Version != 3 {
		t.Fatalf("History() = %+v, want versions 1, 2, 3", h)
	}
	// A change to the listeners cannot be applied while running.
	moved := strings.Replace(docA, `"127.0.0.1:0"`, `"127.0.0.1:1"`, 1)
	if _, err := c.Apply(ctx, []byte(moved), reload.ApplyOptions{}); !errors.As(err, &ps) || ps[0].Path != "listeners" {
		t.Fatalf("Apply(moved listener) = %v, want a problem at listeners", err)
	}
}

// TestHistoryBounded: the history keeps reload.history versions.
func TestHistoryBounded(t *testing.T) {
	a := upstream(t, 200, "a")
	c, _ := start(t, doc([]string{a.URL}, "reload: {history: 3}"), reload.Options{})
	for i := range 5 {
		d := doc([]string{a.URL}, fmt.Sprintf("reload: {history: 3}\nx-n: %d", i))
		if _, err := c.Apply(context.Background(), []byte(d), reload.ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if h := c.History(); len(h) != 3 || h[0].Version != 4 || h[2].Version != 6 {
		t.Fatalf("History() = %d versions from %d, want 3: 4, 5, 6", len(h), h[0].Version)
	}
}

// TestUnhealthyTargetNeverApplies: a reload adding a target that never
// passes its health check within warm_timeout fails, and the running
// configuration goes on serving.
func TestUnhealthyTargetNeverApplies(t *testing.T) {
	a, sick := upstream(t, 200, "a"), upstream(t, 503, "sick")
	hc := "\nreload: {warm_timeout: 300ms}\n"
	c, url := start(t, doc([]string{a.URL}, hc), reload.Options{})
	next := strings.Replace(doc([]string{a.URL, sick.URL}, hc), "targets: [", "health_check: {path: /, interval: 50ms, timeout: 40ms}, targets: [", 1)
	_, err := c.Apply(context.Background(), []byte(next), reload.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(sick.URL, "http://")) {
		t.Fatalf("Apply(sick target) = %v, want an error naming it", err)
	}
	if v := c.Current().Version; v != 1 {
		t.Fatalf("running version %d after a failed warm, want 1", v)
	}
	for range 10 {
		if code, body := get(t, url); code != 200 || body != "a" {
			t.Fatalf("the running configuration answered %d %q, want 200 a", code, body)
		}
	}
}

// TestCarriedReported: the report of an apply says which policies kept
// their running state.
func TestCarriedReported(t *testing.T) {
	a := upstream(t, 200, "a")
	limited := "\nroutes: [{name: all, upstream: app, policies: {rate_limit: {rate: 1000/s}}}]\n"
	base := strings.Replace(doc([]string{a.URL}, ""), "routes: [{name: all, upstream: app}]", limited, 1)
	c, _ := start(t, base, reload.Options{})
	rep, err := c.Apply(context.Background(), []byte(base+"x-touch: 1\n"), reload.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range rep.Carried {
		if it.Kind == "rate_limit" && it.Name == "all" {
			found = it.Carried && it.Reason == "unchanged"
		}
	}
	if !found {
		t.Fatalf("Report.Carried = %+v, want the unchanged rate limit carried", rep.Carried)
	}
}

// steady sends requests from clients goroutines until stopped, counting
// the successes and the failures (anything but 200 with a body in ok).
type steady struct {
	sent, okN, failed atomic.Int64
	stopC             chan struct{}
	wg                sync.WaitGroup
	mu                sync.Mutex
	errs              []string
	failAt            []time.Time
}

func startSteady(url string, clients int, ok func(string) bool) *steady {
	s := &steady{stopC: make(chan struct{})}
	for range clients {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			for {
				select {
				case <-s.stopC:
					return
				default:
				}
				s.one(client, url, ok)
			}
		}()
	}
	return s
}

func (s *steady) one(client *http.Client, url string, ok func(string) bool) {
	s.sent.Add(1)
	resp, err := client.Get(url)
	if err == nil {
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr != nil {
			err = rerr
		} else if resp.StatusCode != 200 || !ok(string(b)) {
			err = fmt.Errorf("status %d, body %q", resp.StatusCode, b)
		}
	}
	if err != nil {
		s.failed.Add(1)
		s.mu.Lock()
		s.failAt = append(s.failAt, time.Now())
		if len(s.errs) < 5 {
			s.errs = append(s.errs, err.Error())
		}
		s.mu.Unlock()
		return
	}
	s.okN.Add(1)
}

func (s *steady) stop() { close(s.stopC); s.wg.Wait() }

// TestReloadsUnderLoad: 100 reloads (20 with -short), alternating two
// configurations that change the routes, the limits and the upstreams,
// under steady load from 8 clients: no request fails.
func TestReloadsUnderLoad(t *testing.T) {
	reloads, every := 100, 100*time.Millisecond
	if testing.Short() {
		reloads = 20
	}
	a := upstream(t, 200, "ok")
	b1, b2 := upstream(t, 200, "ok"), upstream(t, 200, "ok")
	docA := fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: a, targets: [{url: %q}]}]
routes:
  - name: all
    upstream: a
    policies: {rate_limit: {rate: 100000/s}, slo: {objective: 99%%, window: 1h}}
`, a.URL)
	docB := fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: b
    targets: [{url: %q}, {url: %q}]
    breaker: {failure_rate: 50%%, min_calls: 1000}
    health_check: {path: /, interval: 1s, timeout: 500ms}
routes:
  - {name: other, upstream: b, priority: 1, match: {path_prefix: /other}}
  - name: all
    upstream: b
    policies: {concurrency: {max: 1000}, rate_limit: {rate: 50000/s}}
`, b1.URL, b2.URL)
	c, url := start(t, docA, reload.Options{})
	load := startSteady(url+"/", 8, func(b string) bool { return b == "ok" })
	begin := time.Now()
	for i := range reloads {
		d := docB
		if i%2 == 1 {
			d = docA
		}
		if _, err := c.Apply(context.Background(), []byte(d), reload.ApplyOptions{}); err != nil {
			load.stop()
			t.Fatalf("reload %d: %v", i+1, err)
		}
		time.Sleep(every)
	}
	load.stop()
	elapsed := time.Since(begin)
	t.Logf("%d reloads in %v under load: %d requests, %d ok, %d failed", reloads, elapsed.Round(time.Millisecond), load.sent.Load(), load.okN.Load(), load.failed.Load())
	if got := c.Current().Version; got != reloads+1 {
		t.Errorf("running version %d after %d reloads, want %d", got, reloads, reloads+1)
	}
	if load.failed.Load() > 0 {
		t.Fatalf("%d of %d requests failed across %d reloads: %q", load.failed.Load(), load.sent.Load(), reloads, load.errs)
	}
	if load.okN.Load() < int64(reloads) {
		t.Fatalf("only %d requests were sent across %d reloads", load.okN.Load(), reloads)
	}
}

// TestSelfCheckRollsBack: a reload whose new upstream fails every request
// is rolled back by the self-check within its period plus the drain, the
// version is marked bad and refused unless forced, and no request fails
// outside that window.
func TestSelfCheckRollsBack(t *testing.T) {
	good, broken := upstream(t, 200, "ok"), upstream(t, 500, "broken")
	check := "\nreload: {self_check: {period: 3s, min_events: 20}, drain_timeout: 2s}\n"
	docGood, docBad := doc([]string{good.URL}, check), doc([]string{broken.URL}, check)
	c, url := start(t, docGood, reload.Options{})
	load := startSteady(url+"/", 4, func(b string) bool { return b == "ok" })
	time.Sleep(200 * time.Millisecond) // a baseline before the change
	applied := time.Now()
	rep, err := c.Apply(context.Background(), []byte(docBad), reload.ApplyOptions{})
	if err != nil || !rep.SelfCheck {
		load.stop()
		t.Fatalf("Apply(bad) = %+v, %v; want applied with a self-check", rep, err)
	}
	deadline := applied.Add(3*time.Second + 2*time.Second)
	var rolledBack time.Time
	for time.Now().Before(deadline.Add(time.Second)) {
		if v := c.Current(); v.Hash == reload.Hash([]byte(docGood)) {
			rolledBack = time.Now()
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // requests after the rollback
	load.stop()
	if rolledBack.IsZero() {
		t.Fatalf("no rollback within the period plus the drain; status %+v", c.Status())
	}
	st := c.Status()
	if st.SelfCheck == nil || st.SelfCheck.State != "failed" || st.Last.Result != "rolled_back" || st.Current.Version != 3 {
		t.Fatalf("Status() = %+v, want a failed self-check and version 3 rolled back", st)
	}
	late := 0
	load.mu.Lock()
	for _, at := range load.failAt {
		if at.Before(applied) || at.After(rolledBack.Add(100*time.Millisecond)) {
			late++
		}
	}
	load.mu.Unlock()
	t.Logf("rolled back after %v; %d requests, %d failed, %d outside the window", rolledBack.Sub(applied).Round(time.Millisecond), load.sent.Load(), load.failed.Load(), late)
	if late > 0 {
		t.Fatalf("%d requests failed outside the window of the bad version", late)
	}
	if _, body := get(t, url+"/"); body != "ok" {
		t.Fatalf("after the rollback the gateway answers %q", body)
	}
	_, err = c.Apply(context.Background(), []byte(docBad), reload.ApplyOptions{})
	if !errors.Is(err, reload.ErrBadVersion) {
		t.Fatalf("Apply(bad again) = %v, want ErrBadVersion", err)
	}
	var bad bool
	for _, v := range c.History() {
		if v.Version == 2 {
			bad = v.Bad && v.Reason != ""
		}
	}
	if !bad {
		t.Fatalf("History() does not mark version 2 bad: %+v", c.History())
	}
	rep, err = c.Apply(context.Background(), []byte(docBad), reload.ApplyOptions{Force: true})
	if err != nil || rep.Version.Version != 4 {
		t.Fatalf("Apply(bad, forced) = %+v, %v; want version 4", rep, err)
	}
}
