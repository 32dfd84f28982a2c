package proxy

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
)

// TestIdempotencyPerRoute: a route with the Idempotency-Key policy sends
// the first POST with a key upstream, replays its answer to a retry
// without reaching the upstream, refuses the same key on another body
// (422) and, when required, a POST without a key (400); a route without
// the policy passes every POST on.
func TestIdempotencyPerRoute(t *testing.T) {
	var calls atomic.Int64
	up := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		w.Header().Set("X-Order", fmt.Sprint(n))
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "order %d", n)
	})
	_, srv := buildCarry(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [{url: "%s"}]}]
routes:
  - {name: orders, upstream: app, match: {path_prefix: /orders}, policies: {idempotency: {required: true}}}
  - {name: other, upstream: app, match: {path_prefix: /other}}
`, up), nil, nil)

	key := map[string]string{"Idempotency-Key": `"order-7f3a"`}
	resp, body := send(t, "POST", srv.URL+"/orders", `{"sku": 1}`, key)
	if resp.StatusCode != http.StatusCreated || string(body) != "order 1" {
		t.Fatalf("first POST = %d %q, want 201 order 1", resp.StatusCode, body)
	}
	resp, body = send(t, "POST", srv.URL+"/orders", `{"sku": 1}`, key)
	if resp.StatusCode != http.StatusCreated || string(body) != "order 1" || resp.Header.Get("Idempotent-Replayed") != "true" || resp.Header.Get("X-Order") != "1" {
		t.Errorf("retry = %d %q (Idempotent-Replayed %q, X-Order %q), want the first answer replayed",
			resp.StatusCode, body, resp.Header.Get("Idempotent-Replayed"), resp.Header.Get("X-Order"))
	}
	if resp, body := send(t, "POST", srv.URL+"/orders", `{"sku": 2}`, key); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("same key, another body = %d %q, want 422", resp.StatusCode, body)
	}
	if resp, body := send(t, "POST", srv.URL+"/orders", `{"sku": 3}`, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST without a key on a route that requires one = %d %q, want 400", resp.StatusCode, body)
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("upstream called %d times, want once", got)
	}
	for range 2 {
		send(t, "POST", srv.URL+"/other", `{"sku": 1}`, key)
	}
	if got := calls.Load(); got != 3 {
		t.Errorf("upstream called %d times after two POSTs on a route without the policy, want 3", got)
	}
}
