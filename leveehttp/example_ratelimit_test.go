package leveehttp_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/leveehttp"
	"github.com/levee-go/levee/ratelimit"
)

// Limit each client to 2 requests a minute; the third gets 429 with the
// rate-limit fields.
func ExampleRateLimit() {
	keyed, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: ratelimit.PerMinute(2)})
	if err != nil {
		panic(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	srv := httptest.NewServer(leveehttp.RateLimit(keyed, leveehttp.ClientIP{}.Key, leveehttp.RateLimitOptions{
		Headers: leveehttp.RateLimitHeaders{Fields: leveehttp.FieldsIETF},
	})(app))
	defer srv.Close()

	for range 3 {
		resp, err := http.Get(srv.URL)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Printf("%d policy=%s retry-after=%q\n", resp.StatusCode, resp.Header.Get("RateLimit-Policy"), resp.Header.Get("Retry-After"))
	}
	// Output:
	// 200 policy="default";q=2;w=60 retry-after=""
	// 200 policy="default";q=2;w=60 retry-after=""
	// 429 policy="default";q=2;w=60 retry-after="30"
}

func ExampleWriteRateLimitHeaders() {
	h := http.Header{}
	leveehttp.WriteRateLimitHeaders(h, levee.Decision{
		Limit: 100, Remaining: 0, RetryAfter: 1200 * time.Millisecond, Reset: 42 * time.Second,
		Rate: 100, Window: time.Minute,
	}, leveehttp.RateLimitHeaders{Policy: "api", Fields: leveehttp.FieldsAll})
	for _, k := range []string{"Retry-After", "RateLimit-Policy", "RateLimit", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
		fmt.Printf("%s: %s\n", k, h.Get(k))
	}
	// Output:
	// Retry-After: 2
	// RateLimit-Policy: "api";q=100;w=60
	// RateLimit: "api";r=0;t=42
	// X-RateLimit-Limit: 100
	// X-RateLimit-Remaining: 0
	// X-RateLimit-Reset: 42
}

func ExampleParseRetryAfter() {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"30", "Thu, 01 Jan 2026 12:01:00 GMT", "86400", "soon"} {
		d, ok := leveehttp.ParseRetryAfter(v, now, 0)
		fmt.Println(d, ok)
	}
	// Output:
	// 30s true
	// 1m0s true
	// 5m0s true
	// 0s false
}

func ExampleParseRateLimit() {
	items, err := leveehttp.ParseRateLimit(`"burst";r=0;t=2, "daily";r=900;t=30000`, time.Hour)
	if err != nil {
		panic(err)
	}
	for _, it := range items {
		fmt.Println(it.Name, it.Remaining, it.Reset)
	}
	// Output:
	// burst 0 2s
	// daily 900 1h0m0s
}

// Two limits on one route, a global one and one per client: both policies
// reach the client, as members of the RateLimit-Policy and RateLimit lists.
// RateLimit-Policy's q/w is each configured rate (100 per second with a
// burst of 10 is q=100;w=1); the burst shows in r.
func ExampleRateLimit_stacked() {
	global, _ := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: ratelimit.PerSecond(100), Burst: 10})
	perClient, _ := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: ratelimit.PerMinute(60)})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	h := leveehttp.RateLimit(global, nil, leveehttp.RateLimitOptions{
		Headers: leveehttp.RateLimitHeaders{Policy: "global"},
	})(leveehttp.RateLimit(perClient, leveehttp.ClientIP{}.Key, leveehttp.RateLimitOptions{
		Headers: leveehttp.RateLimitHeaders{Policy: "per-client"},
	})(app))
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Header.Get("RateLimit-Policy"))
	// Output:
	// "global";q=100;w=1, "per-client";q=60;w=60
}
