package redislimit_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/redislimit"
	"github.com/redis/go-redis/v9"
)

// These examples need a Redis server, so they are compiled but not run,
// except ExampleLimiter_Fallbacks, which needs none.

// A per-client limit of 100 requests a minute shared by every instance of a
// service, answering refusals with 429 and the rate-limit header fields.
func Example() {
	client := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 []string{"127.0.0.1:6379"},
		ContextTimeoutEnabled: true, // lets Config.Timeout bound each call
	})
	limiter, err := redislimit.New(redislimit.Config{
		Name:      "api",
		Client:    client,
		Limit:     100,
		Period:    time.Minute,
		Instances: 4, // the local fallback then admits 25 a minute per instance
		Logger:    slog.Default(),
	})
	if err != nil {
		panic(err)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		d, err := limiter.DecideKey(r.Context(), r.Header.Get("X-Client-Id"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		// d.Limit is the quota (Burst, here 100); d.Rate per d.Window is
		// the configured 100 a minute.
		w.Header().Set("RateLimit-Limit", strconv.Itoa(d.Limit))
		w.Header().Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
		w.Header().Set("RateLimit-Reset", strconv.Itoa(int(d.Reset.Seconds())))
		if !d.Allowed {
			w.Header().Set("Retry-After", strconv.Itoa(int(d.RetryAfter.Seconds()+0.999)))
			http.Error(w, "rate limited", http.StatusTooManyRequests)
			return
		}
		fmt.Fprintln(w, "hello")
	})
}

// The limiter as a gate in a Levee pipeline, on its configured Key.
func ExampleLimiter_Acquire() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	limiter, err := redislimit.New(redislimit.Config{Client: client, Limit: 1000, Key: "payments"})
	if err != nil {
		panic(err)
	}
	p := levee.New(limiter)
	_, err = levee.Do(context.Background(), p, func(ctx context.Context) (string, error) {
		return "charged", nil
	})
	if errors.Is(err, levee.ErrLimited) {
		wait, _ := levee.RetryAfter(err)
		fmt.Println("try again in", wait)
	}
}

// Leasing for a hot key: each instance takes up to 50 tokens per round trip
// and uses them within 10ms, so the fleet overshoots the limit by at most
// min(Instances×Lease, LeaseTTL×rate) = 100 calls (1%) in any window.
func ExampleConfig_lease() {
	client := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 []string{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"},
		ContextTimeoutEnabled: true,
	})
	limiter, err := redislimit.New(redislimit.Config{
		Client:    client,
		Limit:     10_000,
		Burst:     500,
		Lease:     50,
		LeaseTTL:  10 * time.Millisecond,
		Instances: 8,
		Fallback:  redislimit.LocalShare,
	})
	if err != nil {
		panic(err)
	}
	limiter.OnEvent(func(e levee.Event) {
		if e.Kind == levee.EventStateChange {
			fmt.Println("rate limit decided by", e.To, "because", e.Reason)
		}
	})
}

// With Redis unreachable, the fallback decides, and the limiter says so:
// Fallbacks counts its decisions, and UsingFallback turns true once
// FailureThreshold calls in a row have failed. The decision carries the
// configured figures either way: the quota (Burst 10) and the rate (100 a
// minute); Remaining is the local share's (Burst/Instances less this one).
func ExampleLimiter_Fallbacks() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true, MaxRetries: -1})
	defer client.Close()
	limiter, err := redislimit.New(redislimit.Config{
		Client: client, Limit: 100, Period: time.Minute, Burst: 10, Fallback: redislimit.LocalShare,
	})
	if err != nil {
		panic(err)
	}
	d, err := limiter.DecideKey(context.Background(), "client-42")
	fmt.Println(d.Allowed, d.Limit, d.Remaining, d.Rate, d.Window, err)
	fmt.Println("fallback decisions:", limiter.Fallbacks(), "using fallback:", limiter.UsingFallback())
	// Output:
	// true 10 9 100 1m0s <nil>
	// fallback decisions: 1 using fallback: false
}
