package leveehttp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee"
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
	reached := 0
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		io.WriteString(w, "ok")
	})
	key := func(r *http.Request) string { return r.Header.Get("X-Client") }
	srv := httptest.NewServer(leveehttp.RateLimit(keyed, key, leveehttp.RateLimitOptions{
		Headers: leveehttp.RateLimitHeaders{Policy: "per-client", Fields: leveehttp.FieldsAll},
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

// decider is a levee.KeyedLimiter whose decisions a test chooses.
type decider func(ctx context.Context, key string) (levee.Decision, error)

func (f decider) DecideKey(ctx context.Context, key string) (levee.Decision, error) {
	return f(ctx, key)
}

func (f decider) AcquireKey(ctx context.Context, key string) (levee.Permit, error) {
	d, err := f(ctx, key)
	if err != nil {
		return levee.Permit{}, err
	}
	if !d.Allowed {
		return levee.Permit{}, levee.Reject(levee.ErrLimited, d.RetryAfter)
	}
	return levee.Permit{}, nil
}

func TestRateLimitOptions(t *testing.T) {
	limiter := decider(func(_ context.Context, key string) (levee.Decision, error) {
		if key == "deny" {
			return levee.Decision{Limit: 1, RetryAfter: time.Second, Reset: time.Second, Rate: 1, Window: time.Second}, nil
		}
		return levee.Decision{Allowed: true, Limit: 1, Remaining: 0, Rate: 1, Window: time.Second}, nil
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

// TestRateLimitContext: the request's context, deadline included, reaches
// DecideKey over a real server, and a decision that fails because that
// context ended is answered with 503 (or let through with FailOpen).
func TestRateLimitContext(t *testing.T) {
	var sawDeadline atomic.Bool
	limiter := decider(func(ctx context.Context, key string) (levee.Decision, error) {
		_, ok := ctx.Deadline()
		sawDeadline.Store(ok)
		<-ctx.Done() // a remote limiter that never answers in time
		return levee.Decision{}, ctx.Err()
	})
	withDeadline := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), 10*time.Millisecond)
			defer cancel()
			h.ServeHTTP(w, r.WithContext(ctx))
		})
	}
	reached := 0
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ })
	for _, tt := range []struct {
		failOpen    bool
		status      int
		wantReached int
	}{{false, 503, 0}, {true, 200, 1}} {
		reached = 0
		srv := httptest.NewServer(withDeadline(leveehttp.RateLimit(limiter, nil, leveehttp.RateLimitOptions{FailOpen: tt.failOpen})(app)))
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != tt.status || reached != tt.wantReached || resp.Header.Get("RateLimit") != "" {
			t.Errorf("FailOpen %v: status %d, handler reached %d times, RateLimit %q; want %d, %d, none",
				tt.failOpen, resp.StatusCode, reached, resp.Header.Get("RateLimit"), tt.status, tt.wantReached)
		}
		if !tt.failOpen && string(body) != "rate limit unavailable\n" {
			t.Errorf("503 body = %q, want %q", body, "rate limit unavailable\n")
		}
		if !sawDeadline.Load() {
			t.Errorf("FailOpen %v: DecideKey's context has no deadline, want the request's", tt.failOpen)
		}
	}
}

// TestRateLimitStacked: two RateLimit middlewares over a real server (a
// per-client limit inside a global one) each add their policy to the
// RateLimit-Policy and RateLimit lists; neither overwrites the other.
func TestRateLimitStacked(t *testing.T) {
	clk := clocktest.New(time.Time{})
	mk := func(r ratelimit.Rate, burst int) *ratelimit.Keyed {
		k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: r, Burst: burst, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	global, perClient := mk(ratelimit.PerSecond(100), 10), mk(ratelimit.PerMinute(3), 0)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	tests := []struct {
		name                   string
		outer, inner           string
		wantPolicy, wantRemain []string
	}{
		{"named", "global", "per-client",
			[]string{`"global";q=100;w=1`, `"per-client";q=3;w=60`},
			[]string{`"global";r=9;t=1`, `"per-client";r=2;t=20`}},
		{"both unnamed", "", "",
			[]string{`"default";q=100;w=1`, `"default-2";q=3;w=60`},
			[]string{`"default";r=9;t=1`, `"default-2";r=2;t=20`}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := leveehttp.RateLimit(global, func(*http.Request) string { return strconv.Itoa(i) },
				leveehttp.RateLimitOptions{Headers: leveehttp.RateLimitHeaders{Policy: tt.outer}})(
				leveehttp.RateLimit(perClient, func(*http.Request) string { return strconv.Itoa(i) },
					leveehttp.RateLimitOptions{Headers: leveehttp.RateLimitHeaders{Policy: tt.inner}})(app))
			srv := httptest.NewServer(h)
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			policy, remain := resp.Header.Values("RateLimit-Policy"), resp.Header.Values("RateLimit")
			if strings.Join(policy, ", ") != strings.Join(tt.wantPolicy, ", ") {
				t.Errorf("RateLimit-Policy = %q, want %q", policy, tt.wantPolicy)
			}
			if strings.Join(remain, ", ") != strings.Join(tt.wantRemain, ", ") {
				t.Errorf("RateLimit = %q, want %q", remain, tt.wantRemain)
			}
			// Both parse back as one list each, two members.
			if items, err := leveehttp.ParseRateLimitPolicy(resp.Header.Get("RateLimit-Policy")); err != nil || len(items) != 2 {
				t.Errorf("ParseRateLimitPolicy = %+v, %v, want 2 members", items, err)
			}
			if items, err := leveehttp.ParseRateLimit(resp.Header.Get("RateLimit"), 0); err != nil || len(items) != 2 {
				t.Errorf("ParseRateLimit = %+v, %v, want 2 members", items, err)
			}
		})
	}
}

// TestRateLimitLegacyOptIn: over a real server, the zero options write the
// IETF fields and no X-RateLimit-*; FieldsAll adds them.
func TestRateLimitLegacyOptIn(t *testing.T) {
	keyed, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: ratelimit.PerMinute(3), Clock: clocktest.New(time.Time{})})
	if err != nil {
		t.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, tt := range []struct {
		fields     leveehttp.HeaderFields
		wantLegacy bool
	}{{0, false}, {leveehttp.FieldsIETF, false}, {leveehttp.FieldsAll, true}, {leveehttp.FieldXRateLimit, true}} {
		srv := httptest.NewServer(leveehttp.RateLimit(keyed, nil, leveehttp.RateLimitOptions{
			Headers: leveehttp.RateLimitHeaders{Fields: tt.fields},
		})(app))
		resp, err := srv.Client().Get(srv.URL)
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		legacy := resp.Header.Get("X-RateLimit-Limit") != "" || resp.Header.Get("X-RateLimit-Remaining") != "" || resp.Header.Get("X-RateLimit-Reset") != ""
		if legacy != tt.wantLegacy {
			t.Errorf("Fields %b: X-RateLimit-* written = %v, want %v (header %v)", tt.fields, legacy, tt.wantLegacy, resp.Header)
		}
		if ietf := resp.Header.Get("RateLimit") != ""; ietf != (tt.fields != leveehttp.FieldXRateLimit) {
			t.Errorf("Fields %b: RateLimit written = %v", tt.fields, ietf)
		}
	}
}

// TestRateLimitNilLimiter: a nil limiter is a failed decision (503, or
// through with FailOpen), not a panic.
func TestRateLimitNilLimiter(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, tt := range []struct {
		failOpen bool
		want     int
	}{{false, 503}, {true, 200}} {
		rec := httptest.NewRecorder()
		leveehttp.RateLimit(nil, nil, leveehttp.RateLimitOptions{FailOpen: tt.failOpen})(app).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != tt.want {
			t.Errorf("nil limiter, FailOpen %v: status %d, want %d", tt.failOpen, rec.Code, tt.want)
		}
	}
}
