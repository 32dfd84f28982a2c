package leveehttp_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/leveehttp"
)

// fixedRetrier retries failures up to max attempts, waiting the larger of
// levee.RetryAfter and nothing; it records the waits instead of sleeping.
type fixedRetrier struct {
	max   int
	mu    sync.Mutex
	waits []time.Duration
}

func (r *fixedRetrier) Stage() levee.Stage { return levee.StageRetry }
func (r *fixedRetrier) Attempted(_ context.Context, a levee.Attempt) levee.RetryDecision {
	if a.Result != levee.Failure || a.N >= r.max {
		return levee.RetryDecision{}
	}
	d, _ := levee.RetryAfter(a.Err)
	return levee.RetryDecision{Retry: true, Delay: d}
}
func (r *fixedRetrier) Wait(_ context.Context, d time.Duration) error {
	r.mu.Lock()
	r.waits = append(r.waits, d)
	r.mu.Unlock()
	return nil
}

// bodyTracker wraps a RoundTripper and remembers every response body, to
// check that the transport closes the ones the caller never sees.
type bodyTracker struct {
	base   http.RoundTripper
	mu     sync.Mutex
	bodies []*trackedBody
}

type trackedBody struct {
	io.ReadCloser
	closed atomic.Bool
}

func (b *trackedBody) Close() error { b.closed.Store(true); return b.ReadCloser.Close() }

func (t *bodyTracker) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err == nil {
		tb := &trackedBody{ReadCloser: resp.Body}
		resp.Body = tb
		t.mu.Lock()
		t.bodies = append(t.bodies, tb)
		t.mu.Unlock()
	}
	return resp, err
}

// flaky answers 503 (with Retry-After 2) for the first fails requests, then
// 200 echoing the body; it records each request body.
type flaky struct {
	fails  int32
	n      atomic.Int32
	mu     sync.Mutex
	bodies []string
	hdr    []http.Header
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, string(b))
	f.hdr = append(f.hdr, r.Header.Clone())
	f.mu.Unlock()
	if f.n.Add(1) <= f.fails {
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(503)
		io.WriteString(w, "busy")
		return
	}
	io.WriteString(w, "ok:"+string(b))
}

func client(cfg leveehttp.TransportConfig) *http.Client {
	return &http.Client{Transport: leveehttp.NewTransport(cfg)}
}

func TestTransportRetriesAndClosesBodies(t *testing.T) {
	f := &flaky{fails: 2}
	srv := httptest.NewServer(f)
	defer srv.Close()
	r := &fixedRetrier{max: 5}
	tracker := &bodyTracker{base: leveehttp.NewHTTPTransport(leveehttp.HTTPTransportConfig{})}
	p := levee.New(r)
	c := client(leveehttp.TransportConfig{Base: tracker, Pipeline: func(*http.Request) *levee.Pipeline { return p }})

	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok:" || f.n.Load() != 3 {
		t.Errorf("GET = %d %q after %d requests, want 200 ok: after 3", resp.StatusCode, body, f.n.Load())
	}
	if len(r.waits) != 2 || r.waits[0] != 2*time.Second {
		t.Errorf("retry waits = %v, want two of 2s from Retry-After", r.waits)
	}
	for i, b := range tracker.bodies {
		if !b.closed.Load() {
			t.Errorf("response body %d was not closed", i)
		}
	}
}

func TestTransportStatusIsNotAnError(t *testing.T) {
	f := &flaky{fails: 100}
	srv := httptest.NewServer(f)
	defer srv.Close()
	p := levee.New(&fixedRetrier{max: 3})
	c := client(leveehttp.TransportConfig{Pipeline: func(*http.Request) *levee.Pipeline { return p }})
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatalf("GET with every attempt 503: err = %v, want the last response", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || string(b) != "busy" || f.n.Load() != 3 {
		t.Errorf("got %d %q after %d requests, want the third 503 with its body", resp.StatusCode, b, f.n.Load())
	}
}

func TestTransportReplaysBodies(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		key       string
		noGetBody bool
		buffer    int64
		wantSent  int32
		wantCode  int
	}{
		{"POST not retried", "POST", "", false, 0, 1, 503},
		{"POST with Idempotency-Key replayed", "POST", "k1", false, 0, 2, 200},
		{"PUT replayed", "PUT", "", false, 0, 2, 200},
		{"body without GetBody is sent once", "PUT", "", true, 0, 1, 503},
		{"body without GetBody buffered and replayed", "PUT", "", true, 1024, 2, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &flaky{fails: 1}
			srv := httptest.NewServer(f)
			defer srv.Close()
			p := levee.New(&fixedRetrier{max: 3})
			c := client(leveehttp.TransportConfig{MaxBufferedBody: tt.buffer, Pipeline: func(*http.Request) *levee.Pipeline { return p }})
			var body io.Reader = strings.NewReader("payload")
			if tt.noGetBody {
				body = io.MultiReader(body) // hides the type so NewRequest sets no GetBody
			}
			req, _ := http.NewRequest(tt.method, srv.URL, body)
			if tt.key != "" {
				req.Header.Set("Idempotency-Key", tt.key)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if f.n.Load() != tt.wantSent || resp.StatusCode != tt.wantCode {
				t.Errorf("sent %d times, answer %d; want %d, %d", f.n.Load(), resp.StatusCode, tt.wantSent, tt.wantCode)
			}
			for i, b := range f.bodies {
				if b != "payload" {
					t.Errorf("attempt %d body = %q, want payload", i+1, b)
				}
			}
		})
	}
}

func TestTransportRejectionAndPerHost(t *testing.T) {
	good := httptest.NewServer(&flaky{})
	defer good.Close()
	bad := httptest.NewServer(&flaky{})
	defer bad.Close()
	gates := map[string]*testGate{}
	var mu sync.Mutex
	hosts := leveehttp.PerHost(func(host string) *levee.Pipeline {
		g := &testGate{}
		if "http://"+host == bad.URL {
			g.reject(levee.Reject(levee.ErrOpen, time.Second))
		}
		mu.Lock()
		gates[host] = g
		mu.Unlock()
		return levee.New(g)
	})
	c := client(leveehttp.TransportConfig{Pipeline: hosts.Pick})
	if _, ok := hosts.Pipeline(strings.TrimPrefix(good.URL, "http://")); ok {
		t.Errorf("Pipeline(good host) found one before any request")
	}
	for range 3 {
		resp, err := c.Get(good.URL)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("good host: %v %v", resp, err)
		}
		resp.Body.Close()
		_, err = c.Get(bad.URL)
		if !errors.Is(err, levee.ErrOpen) {
			t.Errorf("bad host: err = %v, want ErrOpen", err)
		}
	}
	if len(gates) != 2 {
		t.Errorf("PerHost built %d pipelines, want one per host (2)", len(gates))
	}
	// The pipelines are reachable: by host, and all of them with Range.
	for _, u := range []string{good.URL, bad.URL} {
		host := strings.TrimPrefix(u, "http://")
		p, ok := hosts.Pipeline(host)
		if !ok || len(p.Policies()) != 1 || p.Policies()[0] != levee.Policy(gates[host]) {
			t.Errorf("Pipeline(%s) = %v, %v; want the pipeline around its gate", host, p, ok)
		}
	}
	seen := map[string]bool{}
	hosts.Range(func(host string, p *levee.Pipeline) bool { seen[host] = p != nil; return true })
	if len(seen) != 2 || !seen[strings.TrimPrefix(good.URL, "http://")] || !seen[strings.TrimPrefix(bad.URL, "http://")] {
		t.Errorf("Range saw %v, want both hosts", seen)
	}
	n := 0
	hosts.Range(func(string, *levee.Pipeline) bool { n++; return false })
	if n != 1 {
		t.Errorf("Range went on after false: %d calls", n)
	}
}

// TestPerHostBuildsOncePerHost races requests to a new host: the pipeline
// is built once.
func TestPerHostBuildsOncePerHost(t *testing.T) {
	var built atomic.Int32
	hosts := leveehttp.PerHost(func(string) *levee.Pipeline { built.Add(1); return levee.New() })
	r := httptest.NewRequest("GET", "http://a.example/", nil)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() { hosts.Pick(r) })
	}
	wg.Wait()
	if n := built.Load(); n != 1 {
		t.Errorf("built %d pipelines for one host, want 1", n)
	}
	var zero leveehttp.Hosts
	if p := zero.Pick(r); p != nil {
		t.Errorf("zero Hosts.Pick = %v, want nil (no policies)", p)
	}
}

func TestTransportWritesBudgetAndTraces(t *testing.T) {
	f := &flaky{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var mu sync.Mutex
	reasons := map[string]int{}
	c := client(leveehttp.TransportConfig{OnEvent: func(e levee.Event) {
		mu.Lock()
		reasons[e.Reason]++
		mu.Unlock()
	}})
	ctx, cancel := context.WithTimeout(levee.WithCriticality(context.Background(), levee.Sheddable), 3*time.Second)
	defer cancel()
	for range 2 {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	h := f.hdr[0]
	if d, err := leveehttp.ParseTimeout(h.Get("Grpc-Timeout")); err != nil || d > 3*time.Second || d < 2*time.Second {
		t.Errorf("Grpc-Timeout = %q (%v), want just under 3s", h.Get("Grpc-Timeout"), err)
	}
	if h.Get("X-Criticality") != "SHEDDABLE" {
		t.Errorf("X-Criticality = %q, want SHEDDABLE", h.Get("X-Criticality"))
	}
	mu.Lock()
	defer mu.Unlock()
	if reasons["conn"] != 2 || reasons["first_byte"] != 2 || reasons["connect"] != 1 {
		t.Errorf("trace events = %v, want conn×2, first_byte×2, connect×1 (second request reuses the connection)", reasons)
	}
}

func TestTransportBufferLimit(t *testing.T) {
	srv := httptest.NewServer(&flaky{})
	defer srv.Close()
	p := levee.New(&fixedRetrier{max: 2})
	c := client(leveehttp.TransportConfig{MaxBufferedBody: 4, Pipeline: func(*http.Request) *levee.Pipeline { return p }})
	req, _ := http.NewRequest("PUT", srv.URL, io.MultiReader(bytes.NewReader([]byte("too large"))))
	if _, err := c.Do(req); err == nil || !strings.Contains(err.Error(), "MaxBufferedBody") {
		t.Errorf("oversized unbuffered body: err = %v, want a clear refusal", err)
	}
}

// outcomeGate admits every call and keeps the last outcome's error.
type outcomeGate struct {
	mu  sync.Mutex
	err error
}

func (g *outcomeGate) Stage() levee.Stage { return levee.StageBreaker }
func (g *outcomeGate) Acquire(context.Context) (levee.Permit, error) {
	return levee.NewPermit(g, 0, 0), nil
}
func (g *outcomeGate) Release(_ levee.Permit, o levee.Outcome) {
	g.mu.Lock()
	g.err = o.Err
	g.mu.Unlock()
}

// TestTransportTakesTimeFromItsClock checks that the Transport measures a
// Retry-After date and the budget it writes from its Clock, not the
// machine's time: the fake clock is years ahead, so the machine's time
// would give a capped wait and a budget of years.
func TestTransportTakesTimeFromItsClock(t *testing.T) {
	now := time.Date(2040, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := clocktest.New(now)
	var budget atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		budget.Store(r.Header.Get(leveehttp.HeaderRequestTimeout))
		w.Header().Set("Retry-After", now.Add(7*time.Second).Format(http.TimeFormat))
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	g := &outcomeGate{}
	c := client(leveehttp.TransportConfig{Clock: clk, BudgetMargin: time.Millisecond,
		Pipeline: func(*http.Request) *levee.Pipeline { return levee.New(g) }})
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(2*time.Second))
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	resp.Body.Close()
	g.mu.Lock()
	wait, ok := levee.RetryAfter(g.err)
	g.mu.Unlock()
	if !ok || wait != 7*time.Second {
		t.Errorf("Retry-After date read as %v, %v; want 7s from the clock's now", wait, ok)
	}
	if got := budget.Load(); got != "1.999s" {
		t.Errorf("X-Request-Timeout = %v, want 1.999s counted from the clock's now", got)
	}
}
