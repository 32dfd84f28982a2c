package leveehttp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/leveehttp"
	"github.com/levee-go/levee/ratelimit"
)

// TestRateLimitEndToEnd runs the middleware over a real loopback server with
// a keyed GCRA on a fake clock: three requests a minute per client.
func TestRateLimitEndToEnd(t *testing.T) {
	clk := clocktest.New(time.Time{})
	keyed, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: ratelimit.PerMinute(3), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	limiter := leveehttp.RateLimiterFunc(func(key string) leveehttp.RateLimitDecision {
		return leveehttp.RateLimitDecision(keyed.DecideKey(key))
	})
	reached := 0
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		io.WriteString(w, "ok")
	})
	key := func(r *http.Request) string { return r.Header.Get("X-Client") }
	srv := httptest.NewServer(leveehttp.RateLimit(limiter, key, leveehttp.RateLimitOptions{
		Headers: leveehttp.RateLimitHeaders{Policy: "per-client"},
	})(app))
	defer srv.Close()

	get := func(client string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("X-Client", client)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	type want struct {
		status     int
		rateLimit  string
		retryAfter string
	}
	steps := []struct {
		name    string
		client  string
		advance time.Duration
		want    want
	}{
		{"first", "a", 0, want{200, `"per-client";r=2;t=20`, ""}},
		{"second", "a", 0, want{200, `"per-client";r=1;t=40`, ""}},
		{"third", "a", 0, want{200, `"per-client";r=0;t=60`, ""}},
		{"fourth rejected", "a", 0, want{429, `"per-client";r=0;t=60`, "20"}},
		{"other client unaffected", "b", 0, want{200, `"per-client";r=2;t=20`, ""}},
		{"still rejected 19.5s later, rounded up", "a", 19500 * time.Millisecond, want{429, `"per-client";r=0;t=41`, "1"}},
		{"admitted after the wait", "a", 500 * time.Millisecond, want{200, `"per-client";r=0;t=60`, ""}},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		resp := get(s.client)
		got := want{resp.StatusCode, resp.Header.Get("RateLimit"), resp.Header.Get("Retry-After")}
		if got != s.want {
			t.Errorf("%s: GET as %s = %+v, want %+v", s.name, s.client, got, s.want)
		}
		if p := resp.Header.Get("RateLimit-Policy"); p != `"per-client";q=3;w=60` {
			t.Errorf("%s: RateLimit-Policy = %q, want %q", s.name, p, `"per-client";q=3;w=60`)
		}
		if resp.Header.Get("X-RateLimit-Limit") != "3" {
			t.Errorf("%s: X-RateLimit-Limit = %q, want 3", s.name, resp.Header.Get("X-RateLimit-Limit"))
		}
		// A client reads the answer back.
		if resp.StatusCode == 429 {
			d, ok := leveehttp.RetryAfterHeader(resp.Header, time.Now(), 0)
			if !ok || d <= 0 {
				t.Errorf("%s: RetryAfterHeader = %v, %v, want a positive wait", s.name, d, ok)
			}
		}
	}
	if reached != 5 {
		t.Errorf("requests reaching the handler = %d, want 5", reached)
	}
}

func TestRateLimitOptions(t *testing.T) {
	limiter := leveehttp.RateLimiterFunc(func(key string) leveehttp.RateLimitDecision {
		if key == "deny" {
			return leveehttp.RateLimitDecision{Limit: 1, RetryAfter: time.Second, Reset: time.Second, Window: time.Second}
		}
		return leveehttp.RateLimitDecision{Allowed: true, Limit: 1, Remaining: 0}
	})
	h := leveehttp.RateLimit(limiter, func(r *http.Request) string { return r.URL.Path[1:] }, leveehttp.RateLimitOptions{
		SkipHeadersOnSuccess: true,
		Headers:              leveehttp.RateLimitHeaders{Fields: leveehttp.FieldRetryAfter},
		Rejected: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"error":"slow down"}`)
		},
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/allow", nil))
	if rec.Code != 200 || len(rec.Header()) != 0 {
		t.Errorf("allowed: status %d, header %v, want 200 with no fields", rec.Code, rec.Header())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/deny", nil))
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "1" || rec.Header().Get("RateLimit") != "" || rec.Body.String() != `{"error":"slow down"}` {
		t.Errorf("denied: status %d, header %v, body %q, want 429, only Retry-After 1, the custom body", rec.Code, rec.Header(), rec.Body)
	}
}
