package redislimit_test

import (
	"net/http"
	"time"

	"github.com/levee-go/levee/leveehttp"
	"github.com/levee-go/levee/redislimit"
	"github.com/redis/go-redis/v9"
)

// Idempotency-Key handling shared by every instance of a service: a retry
// that reaches another instance still gets 409 while the first request
// runs, and the stored response after. It needs a Redis server, so it is
// compiled but not run.
func ExampleNewIdempotencyStore() {
	client := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"127.0.0.1:6379"}})
	store, err := redislimit.NewIdempotencyStore(redislimit.IdempotencyConfig{Client: client})
	if err != nil {
		panic(err)
	}
	idem := leveehttp.Idempotency(store, leveehttp.IdempotencyOptions{
		Required: true,
		TTL:      24 * time.Hour,   // how long a response is replayed: publish it to clients
		Lease:    30 * time.Second, // longer than the slowest request; frees a crashed one's key
		// Keys are held per account, as authenticated in front of this handler.
		Scope: func(r *http.Request) string { return r.Header.Get("X-Account-Id") },
	})
	http.Handle("POST /payments", idem(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})))
}
