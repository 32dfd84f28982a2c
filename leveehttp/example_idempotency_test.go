package leveehttp_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/levee-go/levee/leveehttp"
)

// Idempotency makes a client's retry of a POST safe: the retry gets the
// first response back instead of creating a second order.
func ExampleIdempotency() {
	store, _ := leveehttp.NewIdempotencyMemory(leveehttp.IdempotencyMemoryConfig{})
	created := 0
	orders := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		created++
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "order %d", created)
	})
	srv := httptest.NewServer(leveehttp.Idempotency(store, leveehttp.IdempotencyOptions{Required: true})(orders))
	defer srv.Close()

	post := func(key string) {
		req, _ := http.NewRequest("POST", srv.URL+"/orders", strings.NewReader(`{"item":"book"}`))
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 400 {
			body = []byte(resp.Header.Get("Content-Type"))
		}
		line := fmt.Sprint(resp.StatusCode, " ", string(body))
		if resp.Header.Get("Idempotent-Replayed") == "true" {
			line += " (replayed)"
		}
		fmt.Println(line)
	}
	post(`"order-7f3a"`)
	post(`"order-7f3a"`) // the client's retry
	post("")             // no key on a route that requires one
	// Output:
	// 201 order 1
	// 201 order 1 (replayed)
	// 400 application/problem+json
}
