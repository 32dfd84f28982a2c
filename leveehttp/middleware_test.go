package leveehttp_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
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

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/leveehttp"
)

// testGate admits unless refuse is set, and counts outcomes.
type testGate struct {
	refuse  atomic.Pointer[error]
	results [3]atomic.Int64
}

func (g *testGate) Stage() levee.Stage { return levee.StageBreaker }
func (g *testGate) Acquire(context.Context) (levee.Permit, error) {
	if e := g.refuse.Load(); e != nil {
		return levee.Permit{}, *e
	}
	return levee.NewPermit(g, 0, 0), nil
}
func (g *testGate) Release(_ levee.Permit, o levee.Outcome) { g.results[o.Result].Add(1) }
func (g *testGate) reject(err error)                        { g.refuse.Store(&err) }
func (g *testGate) AcquireKey(ctx context.Context, key string) (levee.Permit, error) {
	if key == "blocked" {
		return levee.Permit{}, levee.Reject(levee.ErrLimited, 3*time.Second)
	}
	return g.Acquire(ctx)
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestGateMiddleware(t *testing.T) {
	g := &testGate{}
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fine") })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) })
	mux.HandleFunc("/bad", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) })
	srv := httptest.NewServer(leveehttp.Gate(g, leveehttp.Options{})(mux))
	defer srv.Close()

	for _, p := range []string{"/ok", "/fail", "/bad"} {
		get(t, srv.URL+p, nil)
	}
	if s, f := g.results[levee.Success].Load(), g.results[levee.Failure].Load(); s != 2 || f != 1 {
		t.Errorf("successes/failures = %d/%d, want 2/1 (only 5xx fails)", s, f)
	}

	tests := []struct {
		name       string
		err        error
		problem    bool
		wantStatus int
		wantRA     string
	}{
		{"limited", levee.Reject(levee.ErrLimited, 1500*time.Millisecond), false, 429, "2"},
		{"open", levee.Reject(levee.ErrOpen, 30*time.Second), false, 503, "30"},
		{"shed no wait", levee.ErrShed, false, 503, ""},
		{"bulkhead problem json", levee.ErrBulkheadFull, true, 503, ""},
		{"sub-second wait rounds up", levee.Reject(levee.ErrLimited, time.Millisecond), true, 429, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.reject(tt.err)
			srv := httptest.NewServer(leveehttp.Gate(g, leveehttp.Options{ProblemJSON: tt.problem})(mux))
			defer srv.Close()
			resp, body := get(t, srv.URL+"/ok", nil)
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("Retry-After") != tt.wantRA {
				t.Errorf("status %d Retry-After %q, want %d %q", resp.StatusCode, resp.Header.Get("Retry-After"), tt.wantStatus, tt.wantRA)
			}
			if body == "fine" {
				t.Error("handler ran for a rejected request")
			}
			if tt.problem {
				var p struct {
					Status int    `json:"status"`
					Title  string `json:"title"`
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type = %q, want application/problem+json", ct)
				}
				if err := json.Unmarshal([]byte(body), &p); err != nil || p.Status != tt.wantStatus || p.Title == "" {
					t.Errorf("problem body %q: %+v, %v", body, p, err)
				}
			}
		})
	}
	g.refuse.Store(nil)
}

func TestKeyedAndCustomReject(t *testing.T) {
	g := &testGate{}
	h := leveehttp.Keyed(g, leveehttp.KeyHeader("x-tenant"), leveehttp.Options{
		Reject: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(418)
			io.WriteString(w, "custom: "+err.Error())
		},
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "in") }))
	srv := httptest.NewServer(h)
	defer srv.Close()
	if resp, body := get(t, srv.URL, map[string]string{"X-Tenant": "acme"}); resp.StatusCode != 200 || body != "in" {
		t.Errorf("tenant acme: %d %q, want 200 in", resp.StatusCode, body)
	}
	if resp, body := get(t, srv.URL, map[string]string{"X-Tenant": "blocked"}); resp.StatusCode != 418 || !strings.HasPrefix(body, "custom: ") {
		t.Errorf("tenant blocked: %d %q, want the custom rejection", resp.StatusCode, body)
	}
}

// nopWriter is a reusable ResponseWriter, so allocation counts measure the
// middleware alone.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(int)             {}

func TestGateMiddlewareAllocs(t *testing.T) {
	g1, g2 := &testGate{}, &testGate{}
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	gated := leveehttp.Gate(g1, leveehttp.Options{})(leveehttp.Gate(g2, leveehttp.Options{})(bare))
	w := &nopWriter{h: http.Header{}}
	r := httptest.NewRequest("GET", "/", nil)
	base := testing.AllocsPerRun(1000, func() { bare.ServeHTTP(w, r) })
	got := testing.AllocsPerRun(1000, func() { gated.ServeHTTP(w, r) })
	if got != base {
		t.Errorf("two gate middlewares allocate %v per request, bare handler %v: want no extra allocation", got, base)
	}
}

func TestStreamingThroughMiddleware(t *testing.T) {
	g := &testGate{}
	release := make(chan struct{})
	var rcErr atomic.Pointer[error]
	h := leveehttp.Recover(leveehttp.RecoverOptions{})(leveehttp.Gate(g, leveehttp.Options{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			t.Error("wrapped writer is not an http.Flusher")
		}
		rc := http.NewResponseController(w)
		err := rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		rcErr.Store(&err)
		io.WriteString(w, "first\n")
		rc.Flush()
		<-release
		io.WriteString(w, "second\n")
	})))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if line != "first\n" || err != nil {
		t.Fatalf("first streamed line = %q, %v; want it before the handler finished", line, err)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if string(rest) != "second\n" {
		t.Errorf("rest = %q", rest)
	}
	if e := rcErr.Load(); e == nil || *e != nil {
		t.Errorf("ResponseController.SetWriteDeadline through the wrapper: %v, want nil (Unwrap reaches the real writer)", e)
	}
}

func TestHijackThroughMiddleware(t *testing.T) {
	g := &testGate{}
	h := leveehttp.Gate(g, leveehttp.Options{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack through middleware: %v", err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		buf.Flush()
		line, _ := buf.ReadString('\n')
		buf.WriteString("echo:" + line)
		buf.Flush()
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade response: %v, %v", resp, err)
	}
	io.WriteString(conn, "hello\n")
	line, _ := br.ReadString('\n')
	if line != "echo:hello\n" {
		t.Errorf("after hijack got %q, want echo:hello", line)
	}
	// The handler records its outcome when it returns, which may be just
	// after the client has read its last line.
	deadline := time.Now().Add(5 * time.Second)
	for g.results[levee.Success].Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if s := g.results[levee.Success].Load(); s != 1 {
		t.Errorf("hijacked request recorded %d successes, want 1", s)
	}
}

func TestRecover(t *testing.T) {
	g := &testGate{}
	var mu sync.Mutex // the late panic's retried request may overlap the first
	var events []levee.Event
	var logged strings.Builder
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom/{id}", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	mux.HandleFunc("GET /abort", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) })
	mux.HandleFunc("GET /late", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(202)
		panic("after header")
	})
	h := leveehttp.Recover(leveehttp.RecoverOptions{
		Logger:  slog.New(slog.NewTextHandler(&logged, nil)),
		OnEvent: func(e levee.Event) { mu.Lock(); events = append(events, e); mu.Unlock() },
	})(leveehttp.Gate(g, leveehttp.Options{})(mux))
	srv := httptest.NewServer(h)
	defer srv.Close()
	srv.Config.ErrorLog = nil

	resp, _ := get(t, srv.URL+"/boom/7", map[string]string{"X-Request-Id": "req-1"})
	if resp.StatusCode != 500 {
		t.Errorf("panic answered %d, want 500", resp.StatusCode)
	}
	if f := g.results[levee.Failure].Load(); f != 1 {
		t.Errorf("gate recorded %d failures for the panic, want 1", f)
	}
	mu.Lock()
	if len(events) != 1 {
		t.Fatalf("got %d events, want 1", len(events))
	}
	var hp *leveehttp.HandlerPanic
	if !errors.As(events[0].Err, &hp) || hp.Route != "GET /boom/{id}" || hp.Method != "GET" || hp.RequestID != "req-1" || len(hp.Panic.Stack) == 0 {
		t.Errorf("panic event = %+v", hp)
	}
	mu.Unlock()
	for _, want := range []string{"route=\"GET /boom/{id}\"", "request_id=req-1", "panic=boom", "stack="} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("log line lacks %s: %s", want, logged.String())
		}
	}

	if resp, err := http.Get(srv.URL + "/late"); err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("panic after WriteHeader answered a complete %d, want the response aborted", resp.StatusCode)
		}
	}

	_, err := http.Get(srv.URL + "/abort")
	if err == nil {
		t.Error("ErrAbortHandler: request succeeded, want the response aborted")
	}
}

func TestRecoverCustomHandlerAndProblem(t *testing.T) {
	h := leveehttp.Recover(leveehttp.RecoverOptions{
		Logger: slog.New(slog.DiscardHandler),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hp, ok := leveehttp.PanicFrom(r.Context())
			if !ok {
				t.Error("PanicFrom found nothing in the recovery handler")
			}
			w.WriteHeader(599)
			io.WriteString(w, hp.Panic.Error())
		}),
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic(errors.New("db gone")) }))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, body := get(t, srv.URL, nil)
	if resp.StatusCode != 599 || body != "levee: panic: db gone" {
		t.Errorf("custom recovery = %d %q", resp.StatusCode, body)
	}

	h2 := leveehttp.Recover(leveehttp.RecoverOptions{ProblemJSON: true, Logger: slog.New(slog.DiscardHandler)})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic(1) }))
	srv2 := httptest.NewServer(h2)
	defer srv2.Close()
	resp, body = get(t, srv2.URL, nil)
	if resp.StatusCode != 500 || !strings.Contains(body, `"status":500`) {
		t.Errorf("problem recovery = %d %q", resp.StatusCode, body)
	}
}

func TestGoHelper(t *testing.T) {
	got := make(chan levee.Event, 1)
	r := httptest.NewRequest("POST", "/jobs", nil)
	r.Pattern = "POST /jobs"
	leveehttp.Go(r, leveehttp.RecoverOptions{Logger: slog.New(slog.DiscardHandler), OnEvent: func(e levee.Event) { got <- e }},
		func() { panic("background") })
	select {
	case e := <-got:
		var hp *leveehttp.HandlerPanic
		if !errors.As(e.Err, &hp) || hp.Route != "POST /jobs" || hp.Panic.Value != "background" {
			t.Errorf("event = %+v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no panic event from leveehttp.Go")
	}
}

func TestHandlerPipelineTimeout(t *testing.T) {
	g := &testGate{}
	p := levee.New(g, scope{50 * time.Millisecond})
	h := leveehttp.Handler(p, leveehttp.Options{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-r.Context().Done()
			return
		}
		if r.URL.Path == "/err" {
			w.WriteHeader(500)
			return
		}
		io.WriteString(w, "quick")
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	if resp, body := get(t, srv.URL+"/fast", nil); resp.StatusCode != 200 || body != "quick" {
		t.Errorf("/fast = %d %q", resp.StatusCode, body)
	}
	if resp, _ := get(t, srv.URL+"/slow", nil); resp.StatusCode != 504 {
		t.Errorf("/slow = %d, want 504 from the time limit", resp.StatusCode)
	}
	if resp, _ := get(t, srv.URL+"/err", nil); resp.StatusCode != 500 {
		t.Errorf("/err = %d, want the handler's 500 kept", resp.StatusCode)
	}
	if s, f := g.results[levee.Success].Load(), g.results[levee.Failure].Load(); s != 1 || f != 2 {
		t.Errorf("gate successes/failures = %d/%d, want 1/2", s, f)
	}
	g.reject(levee.Reject(levee.ErrOpen, time.Second))
	if resp, _ := get(t, srv.URL+"/fast", nil); resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("rejected = %d Retry-After %q, want 503 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

type scope struct{ d time.Duration }

func (s scope) Stage() levee.Stage { return levee.StageTimeout }
func (s scope) Enter(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.d)
}
func (s scope) Exit(parent, scoped context.Context, err error) error {
	if parent.Err() == nil && scoped.Err() != nil {
		return levee.ErrTimeout
	}
	return err
}

func BenchmarkGateMiddleware(b *testing.B) {
	g1, g2 := &testGate{}, &testGate{}
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	gated := leveehttp.Gate(g1, leveehttp.Options{})(leveehttp.Gate(g2, leveehttp.Options{})(bare))
	r := httptest.NewRequest("GET", "/", nil)
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"gated", gated}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := &nopWriter{h: http.Header{}}
				for pb.Next() {
					bc.h.ServeHTTP(w, r)
				}
			})
		})
	}
}

func TestReaderFromAndPusherThroughMiddleware(t *testing.T) {
	g := &testGate{}
	var pushErr error
	h := leveehttp.Gate(g, leveehttp.Options{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rf, ok := w.(io.ReaderFrom)
		if !ok {
			t.Error("wrapped writer is not an io.ReaderFrom")
			return
		}
		pushErr = w.(http.Pusher).Push("/style.css", nil) // HTTP/1: not supported
		if n, err := rf.ReadFrom(strings.NewReader("streamed body")); n != 13 || err != nil {
			t.Errorf("ReadFrom = %d, %v", n, err)
		}
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, body := get(t, srv.URL, nil)
	if resp.StatusCode != 200 || body != "streamed body" {
		t.Errorf("got %d %q, want 200 streamed body", resp.StatusCode, body)
	}
	if !errors.Is(pushErr, http.ErrNotSupported) {
		t.Errorf("Push over HTTP/1 = %v, want http.ErrNotSupported", pushErr)
	}
	if s := g.results[levee.Success].Load(); s != 1 {
		t.Errorf("gate recorded %d successes, want 1 (status 200 seen through ReadFrom)", s)
	}
}

// TestGateZeroPermitPassesWriterThrough checks that a gate whose permits
// settle to nothing (a rate limiter's) hands the handler the server's own
// writer: there is no outcome to observe, so nothing is wrapped.
func TestGateZeroPermitPassesWriterThrough(t *testing.T) {
	rec := httptest.NewRecorder()
	var got http.ResponseWriter
	h := leveehttp.Gate(zeroPermitGate{}, leveehttp.Options{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = w
	}))
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if got != http.ResponseWriter(rec) {
		t.Fatalf("handler got writer %T, want the server's %T unwrapped", got, rec)
	}
}

type zeroPermitGate struct{}

func (zeroPermitGate) Stage() levee.Stage { return levee.StageLimit }
func (zeroPermitGate) Acquire(context.Context) (levee.Permit, error) {
	return levee.Permit{}, nil
}
