package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// requireRedis fails in CI and skips elsewhere when no Redis answers at
// 127.0.0.1:6379: the service's rate limit is the real, shared one.
func requireRedis(t *testing.T) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis at 127.0.0.1:6379 is required in CI: %v", err)
		}
		t.Skipf("Redis at 127.0.0.1:6379 not reachable (%v); start one to run this test", err)
	}
}

// TestService drives the example as a client would: answers, a per-client
// rate limit shared through Redis, a dependency that fails and the breaker
// that stops calling it, probes and metrics that stay reachable through it
// all, and a clean drain.
func TestService(t *testing.T) {
	requireRedis(t)

	var failing atomic.Bool
	dep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"items":["anchor"]}`)
	}))
	defer dep.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{
			Dependency:     dep.URL,
			RatePerSecond:  5,
			RedisPrefix:    fmt.Sprintf("levee:example-test:%d:", time.Now().UnixNano()),
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			Ready:          func(addr string) { ready <- addr },
			Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
			Signals:        []os.Signal{},
			GracePeriod:    1200 * time.Millisecond,
		})
	}()
	var base string
	select {
	case addr := <-ready:
		base = "http://" + addr
	case err := <-done:
		t.Fatalf("Run returned before serving: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("service not ready after 10s")
	}

	get := func(path, client string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if client != "" {
			req.Header.Set("X-Forwarded-For", client)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(body)
	}

	// An answer, with the rate-limit fields.
	resp, body := get("/api/items", "198.51.100.1")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "anchor") {
		t.Fatalf("GET /api/items = %d %q, want 200 with the items", resp.StatusCode, body)
	}
	if resp.Header.Get("RateLimit-Policy") == "" || resp.Header.Get("RateLimit") == "" {
		t.Errorf("GET /api/items: no RateLimit fields in %v", resp.Header)
	}

	// One client past its 5/s is refused with 429 and Retry-After; another
	// client is not.
	var ok, limited int
	for range 20 {
		resp, _ := get("/api/items", "198.51.100.1")
		switch resp.StatusCode {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After: %v", resp.Header)
			}
		default:
			t.Fatalf("rate-limited client got %d", resp.StatusCode)
		}
	}
	if limited == 0 || ok > 10 {
		t.Errorf("21 requests at 5/s: %d admitted and %d refused after the first, want at most ~5 admitted", ok, limited)
	}
	if resp, _ := get("/api/items", "198.51.100.9"); resp.StatusCode != http.StatusOK {
		t.Errorf("another client got %d, want 200: clients share no quota", resp.StatusCode)
	}

	// The dependency fails: the breaker opens and answers for it, without
	// leaking its address; probes stay green.
	failing.Store(true)
	var refused bool
	for i := range 40 {
		resp, body := get("/api/items", fmt.Sprintf("203.0.113.%d", i))
		if strings.Contains(body, strings.TrimPrefix(dep.URL, "http://")) {
			t.Fatalf("response leaks the dependency's address: %q", body)
		}
		if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" {
			refused = true
			var problem map[string]any
			if err := json.Unmarshal([]byte(body), &problem); err != nil {
				t.Errorf("open-breaker answer is not problem+json: %q", body)
			}
			break
		}
	}
	if !refused {
		t.Error("40 calls to a failing dependency: the breaker never answered 503 with Retry-After")
	}
	for _, probe := range []string{"/livez", "/readyz"} {
		if resp, body := get(probe, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s while the dependency is down = %d %q, want 200 (probes sit outside the gates)", probe, resp.StatusCode, body)
		}
	}

	// Every series on one registry.
	_, metrics := get("/metrics", "")
	for _, name := range []string{"levee_policy_state", "levee_requests_total", "levee_slo_"} {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics has no %s series", name)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("service did not stop within 10s of cancel")
	}
}
