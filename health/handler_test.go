package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/levee-go/levee/health"
)

func ok(context.Context) error { return nil }

func fail(msg string) func(context.Context) error {
	return func(context.Context) error { return errors.New(msg) }
}

// newHealth builds a Health with a fixed set of checks covering every probe
// and criticality.
func newHealth(t *testing.T, cfg health.Config) *health.Health {
	t.Helper()
	h, err := health.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v) error %v", cfg, err)
	}
	t.Cleanup(func() { h.Close() })
	for _, c := range []health.Check{
		{Name: "ping", Func: ok, Probes: health.Liveness | health.Readiness},
		{Name: "db", Func: ok},
		{Name: "queue", Func: fail("dial tcp 127.0.0.1:5672: connection refused")},
		{Name: "cache", Func: fail("timeout"), NonCritical: true},
		{Name: "migrations", Func: ok, Probes: health.Startup},
	} {
		if err := h.Add(c); err != nil {
			t.Fatalf("Add(%q) error %v", c.Name, err)
		}
	}
	return h
}

func get(t *testing.T, hd http.Handler, target string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	r := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	hd.ServeHTTP(w, r)
	body, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(body), w.Result().Header
}

func TestHandlerKubernetesFormat(t *testing.T) {
	h := newHealth(t, health.Config{})
	hd := h.Handler()
	tests := []struct {
		name   string
		target string
		code   int
		body   string
	}{
		{"livez ok", "/livez", 200, "ok"},
		{"livez verbose", "/livez?verbose", 200, "[+]ping ok\nlivez check passed\n"},
		{"startupz verbose", "/startupz?verbose=1", 200, "[+]migrations ok\nstartupz check passed\n"},
		{"readyz failing is always verbose", "/readyz", 500,
			"[+]shutdown ok\n[+]ping ok\n[+]db ok\n[-]queue failed: dial tcp 127.0.0.1:5672: connection refused\n" +
				"[-]cache failed: timeout (non-critical)\nreadyz check failed\n"},
		{"readyz exclude failing check", "/readyz?exclude=queue", 200, "ok"},
		{"readyz exclude verbose", "/readyz?exclude=queue&verbose", 200,
			"[+]shutdown ok\n[+]ping ok\n[+]db ok\n[+]queue excluded: ok\n" +
				"[-]cache failed: timeout (non-critical)\nreadyz check passed\n"},
		{"readyz exclude repeatable with unknown", "/readyz?exclude=queue&exclude=nope&exclude=cache&exclude=nope&verbose", 200,
			"[+]shutdown ok\n[+]ping ok\n[+]db ok\n[+]queue excluded: ok\n[+]cache excluded: ok\n" +
				"warn: some health checks cannot be excluded: no matches for \"nope\"\nreadyz check passed\n"},
		{"shutdown cannot be excluded", "/readyz?exclude=queue&exclude=shutdown&verbose", 200,
			"[+]shutdown ok\n[+]ping ok\n[+]db ok\n[+]queue excluded: ok\n" +
				"[-]cache failed: timeout (non-critical)\n" +
				"warn: some health checks cannot be excluded: no matches for \"shutdown\"\nreadyz check passed\n"},
		{"single check ok", "/readyz/db", 200, "ok"},
		{"single check failed", "/readyz/queue", 500, "internal server error: dial tcp 127.0.0.1:5672: connection refused\n"},
		{"single non-critical check answers 200", "/readyz/cache", 200, "ok"},
		{"single shutdown check", "/readyz/shutdown", 200, "ok"},
		{"single check of another probe", "/livez/db", 404, "health: no livez check named \"db\"\n"},
		{"unknown check", "/readyz/nope", 404, "health: no readyz check named \"nope\"\n"},
		{"trailing slash", "/livez/", 200, "ok"},
		{"under a prefix", "/admin/health/livez?verbose", 200, "[+]ping ok\nlivez check passed\n"},
		{"unknown path", "/healthz", 404, "404 page not found\n"},
		{"probe word inside a longer element", "/livezz", 404, "404 page not found\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, _ := get(t, hd, tt.target)
			if code != tt.code || body != tt.body {
				t.Errorf("GET %s = %d %q, want %d %q", tt.target, code, body, tt.code, tt.body)
			}
		})
	}
}

func TestHandlerWithholdReasons(t *testing.T) {
	h := newHealth(t, health.Config{WithholdReasons: true})
	code, body, _ := get(t, h.Handler(), "/readyz?exclude=cache")
	want := "[+]shutdown ok\n[+]ping ok\n[+]db ok\n[-]queue failed: reason withheld\n[+]cache excluded: ok\nreadyz check failed\n"
	if code != 500 || body != want {
		t.Errorf("GET /readyz = %d %q, want 500 %q", code, body, want)
	}
	code, body, _ = get(t, h.Handler(), "/readyz/queue")
	if want := "internal server error: reason withheld\n"; code != 500 || body != want {
		t.Errorf("GET /readyz/queue = %d %q, want 500 %q", code, body, want)
	}
	// Programmatic reports keep the reason.
	rep := h.Check(context.Background(), health.Readiness)
	if got := rep.Checks[3].Error; !strings.Contains(got, "connection refused") {
		t.Errorf("Check(Readiness).Checks[3].Error = %q, want the real reason", got)
	}
}

func TestHandlerHeaders(t *testing.T) {
	h := newHealth(t, health.Config{})
	_, _, hdr := get(t, h.Handler(), "/livez")
	for k, want := range map[string]string{
		"Content-Type":           "text/plain; charset=utf-8",
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "no-store",
	} {
		if got := hdr.Get(k); got != want {
			t.Errorf("GET /livez header %s = %q, want %q", k, got, want)
		}
	}
}

func TestHandlerJSON(t *testing.T) {
	h := newHealth(t, health.Config{})
	code, body, hdr := get(t, h.Handler(), "/readyz?exclude=db", "Accept", "application/json")
	if code != 500 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /readyz JSON = %d %s, want 500 application/json", code, hdr.Get("Content-Type"))
	}
	var rep health.Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("json.Unmarshal(%s) error %v", body, err)
	}
	if rep.Probe != "readyz" || rep.Status != health.StatusFailed || len(rep.Checks) != 5 {
		t.Fatalf("report = %+v, want readyz failed with 5 checks", rep)
	}
	want := map[string]health.Status{
		"shutdown": health.StatusOK, "ping": health.StatusOK, "db": health.StatusExcluded,
		"queue": health.StatusFailed, "cache": health.StatusDegraded,
	}
	for _, c := range rep.Checks {
		if c.Status != want[c.Name] {
			t.Errorf("check %s status = %s, want %s", c.Name, c.Status, want[c.Name])
		}
	}
	if c := rep.Checks[4]; c.Critical || c.Error != "timeout" {
		t.Errorf("cache = %+v, want non-critical with error timeout", c)
	}
	if !strings.Contains(body, `"status":"degraded"`) || !strings.Contains(body, `"probe":"readyz"`) {
		t.Errorf("body %s lacks the snake-case fields", body)
	}

	code, body, _ = get(t, h.Handler(), "/readyz?exclude=queue", "Accept", "text/html, application/json;q=0.9")
	if code != 200 || !strings.Contains(body, `"status":"degraded"`) {
		t.Errorf("GET /readyz?exclude=queue JSON = %d %s, want 200 degraded", code, body)
	}

	code, body, _ = get(t, h.Handler(), "/readyz/queue", "Accept", "application/json")
	var res health.Result
	if err := json.Unmarshal([]byte(body), &res); err != nil || code != 500 || res.Name != "queue" || res.Status != health.StatusFailed {
		t.Errorf("GET /readyz/queue JSON = %d %s (%v), want 500 failed result", code, body, err)
	}
}

func TestRegisterOnServeMux(t *testing.T) {
	h := newHealth(t, health.Config{})
	mux := http.NewServeMux()
	h.Register(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "app") })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, tt := range []struct {
		path string
		code int
		body string
	}{
		{"/livez", 200, "ok"},
		{"/readyz/db", 200, "ok"},
		{"/startupz", 200, "ok"},
		{"/readyz", 500, ""},
		{"/other", 200, "app"},
	} {
		resp, err := http.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatalf("GET %s error %v", tt.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.code || (tt.body != "" && string(b) != tt.body) {
			t.Errorf("GET %s = %d %q, want %d %q", tt.path, resp.StatusCode, b, tt.code, tt.body)
		}
	}
}

func TestDrainFailsReadinessOnly(t *testing.T) {
	h, _ := health.New(health.Config{})
	defer h.Close()
	h.Add(health.Check{Name: "ping", Func: ok, Probes: health.Liveness | health.Readiness})
	hd := h.Handler()
	if code, _, _ := get(t, hd, "/readyz"); code != 200 {
		t.Fatalf("GET /readyz before Drain = %d, want 200", code)
	}
	h.Drain()
	if !h.Draining() {
		t.Errorf("Draining() = false after Drain, want true")
	}
	want := "[-]shutdown failed: process is shutting down\n[+]ping ok\nreadyz check failed\n"
	if code, body, _ := get(t, hd, "/readyz"); code != 500 || body != want {
		t.Errorf("GET /readyz while draining = %d %q, want 500 %q", code, body, want)
	}
	if code, _, _ := get(t, hd, "/readyz?exclude=shutdown"); code != 500 {
		t.Errorf("GET /readyz?exclude=shutdown while draining = %d, want 500", code)
	}
	if code, _, _ := get(t, hd, "/readyz/shutdown"); code != 500 {
		t.Errorf("GET /readyz/shutdown while draining = %d, want 500", code)
	}
	if code, body, _ := get(t, hd, "/livez"); code != 200 || body != "ok" {
		t.Errorf("GET /livez while draining = %d %q, want 200 ok", code, body)
	}
}

func FuzzHandler(f *testing.F) {
	for _, s := range []string{"/livez", "/readyz?verbose&exclude=db", "/readyz/queue", "/a/readyz/b/livez", "/startupz/", "//", "/readyz?exclude=%ff"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	h, _ := health.New(health.Config{})
	h.Add(health.Check{Name: "db", Func: ok})
	h.Add(health.Check{Name: "a/b", Func: fail("x\ny"), Probes: health.Liveness})
	hd := h.Handler()
	f.Fuzz(func(t *testing.T, target string, asJSON bool) {
		r, err := http.NewRequest("GET", "http://x"+target, nil)
		if err != nil {
			return
		}
		if asJSON {
			r.Header.Set("Accept", "application/json")
		}
		w := httptest.NewRecorder()
		hd.ServeHTTP(w, r)
		switch w.Code {
		case 200, 404, 500:
		default:
			t.Fatalf("GET %q = %d, want 200, 404 or 500", target, w.Code)
		}
		if w.Code == 500 && !asJSON && !strings.HasSuffix(w.Body.String(), "failed\n") && !strings.HasPrefix(w.Body.String(), "internal server error: ") {
			t.Fatalf("GET %q = 500 %q, want a kube-style failure body", target, w.Body.String())
		}
	})
}
