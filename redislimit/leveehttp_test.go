package redislimit_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/levee-go/levee/leveehttp"
	"github.com/levee-go/levee/redislimit"
)

// get sends a GET to url and returns the response with its body read.
func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// withDeadline gives each request a context that ends at now+d (d may be
// negative: already ended), as a server-side deadline middleware does.
func withDeadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithDeadline(r.Context(), time.Now().Add(d))
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, "ok\n")
})

// rateLimitFields parses the response's RateLimit-Policy and RateLimit
// fields strictly and returns the one policy and its state.
func rateLimitFields(t *testing.T, h http.Header) (leveehttp.RateLimitPolicyItem, leveehttp.RateLimitItem) {
	t.Helper()
	pol, err := leveehttp.ParseRateLimitPolicy(h.Get("RateLimit-Policy"))
	if err != nil || len(pol) != 1 {
		t.Fatalf("RateLimit-Policy %q: %v, %d items; want one policy", h.Get("RateLimit-Policy"), err, len(pol))
	}
	st, err := leveehttp.ParseRateLimit(h.Get("RateLimit"), time.Hour)
	if err != nil || len(st) != 1 {
		t.Fatalf("RateLimit %q: %v, %d items; want one item", h.Get("RateLimit"), err, len(st))
	}
	return pol[0], st[0]
}

// TestRateLimitMiddlewareOnRedis serves a real HTTP server whose
// leveehttp.RateLimit is fed a *redislimit.Limiter directly, with no glue,
// against the real Redis: the fields advertise the configured rate, a spent
// quota is a 429 with Retry-After, and the request's context reaches Redis.
func TestRateLimitMiddlewareOnRedis(t *testing.T) {
	c := requireRedis(t)
	// 3 per 2s is not a whole number per second: RateLimit-Policy must
	// still carry exactly that rate. The burst, 5, differs from it.
	const limit, burst = 3, 5
	const period = 2 * time.Second
	newLimiter := func(t *testing.T) *redislimit.Limiter {
		l, err := redislimit.New(redislimit.Config{Client: c, Prefix: testPrefix(t, c),
			Limit: limit, Period: period, Burst: burst, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	t.Run("quota", func(t *testing.T) {
		l := newLimiter(t)
		srv := httptest.NewServer(leveehttp.RateLimit(l, leveehttp.ClientIP{}.Key, leveehttp.RateLimitOptions{})(okHandler))
		defer srv.Close()
		admitted, prev := 0, int64(burst)
		for range burst + 3 {
			resp, body := get(t, srv.URL)
			pol, st := rateLimitFields(t, resp.Header)
			if got, want := pol.Quota*int64(period), int64(limit)*int64(pol.Window); got != want || pol.Window <= 0 {
				t.Fatalf("RateLimit-Policy %q: q/w = %d/%v, want the configured %d/%v",
					resp.Header.Get("RateLimit-Policy"), pol.Quota, pol.Window, limit, period)
			}
			if st.Remaining < 0 || st.Remaining > burst {
				t.Fatalf("RateLimit %q: r = %d, want 0 to the burst %d", resp.Header.Get("RateLimit"), st.Remaining, burst)
			}
			if resp.StatusCode == http.StatusOK {
				if st.Remaining >= prev {
					t.Errorf("RateLimit %q after an admission: r = %d, want below the previous %d",
						resp.Header.Get("RateLimit"), st.Remaining, prev)
				}
				admitted++
				prev = st.Remaining
				continue
			}
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("status = %d (%q), want 200 or 429", resp.StatusCode, body)
			}
			ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
			if err != nil || ra < 1 {
				t.Errorf("429 Retry-After = %q, want whole seconds >= 1", resp.Header.Get("Retry-After"))
			}
			if st.Remaining != 0 {
				t.Errorf("429 RateLimit %q: r = %d, want 0", resp.Header.Get("RateLimit"), st.Remaining)
			}
			if admitted < burst || admitted > burst+1 {
				t.Errorf("first 429 after %d admissions, want the burst %d (one more if a token accrued)", admitted, burst)
			}
			return
		}
		t.Fatalf("%d requests admitted with a burst of %d: no 429", admitted, burst)
	})

	t.Run("ended context", func(t *testing.T) {
		l := newLimiter(t)
		limited := leveehttp.RateLimit(l, leveehttp.ClientIP{}.Key, leveehttp.RateLimitOptions{})(okHandler)
		ended := httptest.NewServer(withDeadline(-time.Second, limited))
		defer ended.Close()
		resp, body := get(t, ended.URL)
		if resp.StatusCode != http.StatusServiceUnavailable || body != "rate limit unavailable\n" {
			t.Errorf("request with an ended context: %d %q, want 503 %q", resp.StatusCode, body, "rate limit unavailable\n")
		}
		if v := resp.Header.Get("RateLimit"); v != "" {
			t.Errorf("failed decision has RateLimit %q, want none", v)
		}
		// The ended request took no token: the next one finds the whole
		// burst less its own.
		live := httptest.NewServer(limited)
		defer live.Close()
		resp, _ = get(t, live.URL)
		if _, st := rateLimitFields(t, resp.Header); resp.StatusCode != http.StatusOK || st.Remaining != burst-1 {
			t.Errorf("next request: %d, r = %d; want 200, r = %d", resp.StatusCode, st.Remaining, burst-1)
		}
	})

	// A hung Redis (SIGSTOP) with a fail-open fallback and a long Timeout:
	// only the request's own deadline, passed down to the round trip, can
	// end the decision early, and then it fails (503) instead of being
	// admitted by the fallback once Timeout has passed.
	t.Run("deadline reaches redis", func(t *testing.T) {
		rs := startRedisServer(t, freePort(t))
		l, err := redislimit.New(redislimit.Config{Client: newClient(t, rs.addr()), Limit: limit, Period: period,
			Burst: burst, Timeout: 5 * time.Second, Fallback: redislimit.FailOpen})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(withDeadline(200*time.Millisecond,
			leveehttp.RateLimit(l, leveehttp.ClientIP{}.Key, leveehttp.RateLimitOptions{})(okHandler)))
		defer srv.Close()
		// A first request opens the client's connection while Redis
		// answers (a connection dialed to a hung server escapes the
		// deadline in go-redis; see Config.Timeout).
		if resp, body := get(t, srv.URL); resp.StatusCode != http.StatusOK {
			t.Fatalf("request to a live redis: %d %q, want 200", resp.StatusCode, body)
		}
		rs.pause()
		resp, body := get(t, srv.URL)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("request with a 200ms deadline to a hung redis: %d %q, want 503 (deadline ended the round trip)",
				resp.StatusCode, body)
		}
		if n := l.Fallbacks(); n != 0 {
			t.Errorf("Fallbacks() = %d, want 0: the request's deadline, not Timeout, ended the decision", n)
		}
	})
}
