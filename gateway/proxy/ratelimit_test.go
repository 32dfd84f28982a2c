package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/gateway/config"
	"github.com/redis/go-redis/v9"
)

// TestRateLimitLocalHolds sends rate+1 requests at one instant of a fake
// clock: the first rate pass with the RateLimit fields, the next is a 429
// with Retry-After, the fields and a problem+json body; another client IP
// (header key) has its own allowance; time restores the allowance.
func TestRateLimitLocalHolds(t *testing.T) {
	up := echoUpstream(t, "a")
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: a, targets: [{url: %q}]}]
routes:
  - name: api
    upstream: a
    policies:
      rate_limit: {rate: 3/s, key: [route, "header:X-Tenant"]}
`, hostPort(up)), clk)

	send := func(tenant string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, gw.URL+"/", nil)
		req.Header.Set("X-Tenant", tenant)
		return do(t, req)
	}
	for i := range 3 {
		resp, body := send("t1")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d (%s), want 200", i+1, resp.StatusCode, body)
		}
		if got, want := resp.Header.Get("RateLimit"), fmt.Sprintf(`"api";r=%d;t=`, 2-i); !strings.HasPrefix(got, want) {
			t.Errorf("request %d: RateLimit = %q, want prefix %q", i+1, got, want)
		}
		if got := resp.Header.Get("RateLimit-Policy"); got != `"api";q=3;w=1` {
			t.Errorf("request %d: RateLimit-Policy = %q", i+1, got)
		}
	}
	resp, body := send("t1")
	checkProblem(t, resp, body, http.StatusTooManyRequests, ReasonRateLimited)
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Errorf("refusal: Retry-After = %q, want 1", got)
	}
	if got := resp.Header.Get("RateLimit"); !strings.HasPrefix(got, `"api";r=0;t=`) {
		t.Errorf("refusal: RateLimit = %q, want r=0", got)
	}
	if resp, body := send("t2"); resp.StatusCode != http.StatusOK {
		t.Errorf("another tenant: status %d (%s), want 200: keys must not share a limit", resp.StatusCode, body)
	}
	clk.Advance(time.Second / 3)
	if resp, body := send("t1"); resp.StatusCode != http.StatusOK {
		t.Errorf("after a third of a second: status %d (%s), want 200", resp.StatusCode, body)
	}
}

// TestRateLimitKeyParts checks the key each part list builds.
func TestRateLimitKeyParts(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Tenant", "acme")
	r.AddCookie(&http.Cookie{Name: "sid", Value: "s1"})
	ex := &exchange{}
	ex.client = peerAddr(&http.Request{RemoteAddr: "192.0.2.7:5555"})
	tests := []struct {
		parts []config.KeyPart
		want  string
	}{
		{[]config.KeyPart{"route"}, "api"},
		{[]config.KeyPart{"client_ip"}, "192.0.2.7"},
		{[]config.KeyPart{"header:x-tenant"}, "acme"},
		{[]config.KeyPart{"cookie:sid"}, "s1"},
		{[]config.KeyPart{"header:X-Missing"}, ""},
		{[]config.KeyPart{"route", "client_ip", "header:X-Tenant"}, "api\x1f192.0.2.7\x1facme"},
	}
	for _, tt := range tests {
		if got := compileKey(tt.parts).key(r, ex, "api"); got != tt.want {
			t.Errorf("key(%v) = %q, want %q", tt.parts, got, tt.want)
		}
	}
}

// mainRedis is the machine's Redis, shared with other tests: every test
// uses keys of its own (a route name unique to the run).
const mainRedis = "127.0.0.1:6379"

// requireRedis skips the test when the main Redis does not answer (and
// fails it when CI is set).
func requireRedis(t *testing.T) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: mainRedis})
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis at %s is required in CI: %v", mainRedis, err)
		}
		t.Skipf("Redis at %s not reachable: %v", mainRedis, err)
	}
	return c
}

// uniqueRoute is a route name no other run uses, whose Redis keys are
// deleted at the end of the test.
func uniqueRoute(t *testing.T, c *redis.Client) string {
	name := fmt.Sprintf("rl-%d-%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, redisPrefix+name+":*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return name
}

// TestRateLimitSharedThroughRedis runs two Proxy instances on the same
// Redis: together they admit the limit, not twice it.
func TestRateLimitSharedThroughRedis(t *testing.T) {
	c := requireRedis(t)
	route := uniqueRoute(t, c)
	up := echoUpstream(t, "a")
	yaml := fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
redis: {addrs: [%q], timeout: 500ms}
upstreams: [{name: a, targets: [{url: %q}]}]
routes:
  - name: %s
    upstream: a
    policies:
      rate_limit: {rate: 10/m, key: [client_ip], redis: true, instances: 2}
`, mainRedis, hostPort(up), route)
	_, gw1 := gateway(t, yaml, nil)
	_, gw2 := gateway(t, yaml, nil)

	admitted := 0
	for i := range 30 {
		gw := gw1
		if i%2 == 1 {
			gw = gw2
		}
		resp, body := get(t, gw.URL+"/")
		switch resp.StatusCode {
		case http.StatusOK:
			admitted++
		case http.StatusTooManyRequests:
			checkProblem(t, resp, body, http.StatusTooManyRequests, ReasonRateLimited)
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("request %d: 429 without Retry-After", i+1)
			}
		default:
			t.Fatalf("request %d: status %d (%s)", i+1, resp.StatusCode, body)
		}
		if fb := resp.Header.Get(RateLimitFallbackHeader); fb != "" {
			t.Fatalf("request %d: decided by the fallback (%s) with Redis up", i+1, fb)
		}
	}
	if admitted != 10 {
		t.Errorf("two gateways sharing Redis admitted %d of 30 requests, want the limit, 10", admitted)
	}
}

// TestRateLimitRedisStoppedFallsBack stops a Redis of the test's own in
// the middle of a run: every decision after that is the fallback's, is
// answered within the timeout (plus the request's own cost), says so in
// Levee-RateLimit-Fallback, and the switch is logged.
func TestRateLimitRedisStoppedFallsBack(t *testing.T) {
	for _, tt := range []struct {
		mode   config.RedisFailure
		status int  // of the requests after the stop
		hang   bool // stop with SIGSTOP: connections stay open, nothing answers
	}{
		{config.FailOpen, http.StatusOK, false},
		{config.FailClosed, http.StatusTooManyRequests, false},
		{config.LocalShare, http.StatusOK, false},
		{config.FailOpen, http.StatusOK, true},
	} {
		name := string(tt.mode)
		if tt.hang {
			name += "/hung"
		}
		t.Run(name, func(t *testing.T) {
			srv := startRedis(t)
			up := echoUpstream(t, "a")
			cfg, err := config.Parse(fmt.Appendf(nil, `
listeners: [{name: public, address: "127.0.0.1:0"}]
redis: {addrs: [%q], timeout: 100ms}
upstreams: [{name: a, targets: [{url: %q}]}]
routes:
  - name: api
    upstream: a
    policies:
      rate_limit: {rate: 1000/s, key: [route], redis: true, on_redis_failure: %s}
`, srv.addr, hostPort(up), tt.mode), config.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var logs syncBuffer
			p, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			gw := httptest.NewServer(p)
			t.Cleanup(func() { gw.Close(); p.Close() })

			resp, body := get(t, gw.URL+"/")
			if resp.StatusCode != http.StatusOK || resp.Header.Get(RateLimitFallbackHeader) != "" {
				t.Fatalf("with Redis up: status %d, %s %q (%s)", resp.StatusCode, RateLimitFallbackHeader, resp.Header.Get(RateLimitFallbackHeader), body)
			}
			if tt.hang {
				srv.pause()
			} else {
				srv.stop()
			}
			for i := range 5 {
				start := time.Now()
				resp, body := get(t, gw.URL+"/")
				took := time.Since(start)
				if resp.StatusCode != tt.status {
					t.Errorf("request %d after the stop: status %d (%s), want %d", i+1, resp.StatusCode, body, tt.status)
				}
				if got := resp.Header.Get(RateLimitFallbackHeader); got != string(tt.mode) {
					t.Errorf("request %d after the stop: %s = %q, want %q", i+1, RateLimitFallbackHeader, got, tt.mode)
				}
				if took > 600*time.Millisecond {
					t.Errorf("request %d after the stop took %v; the fallback must answer within the 100ms timeout", i+1, took)
				}
			}
			if !strings.Contains(logs.text(), "fallback") {
				t.Errorf("no log line about the switch to the fallback; log:\n%s", logs.text())
			}
		})
	}
}

// redisServer is a redis-server child process of the test, stopped by its
// PID.
type redisServer struct {
	addr string
	cmd  *exec.Cmd
}

// startRedis starts a redis-server without persistence on a free loopback
// port, or skips (fails in CI) when the binary is missing.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server is required in CI: %v", err)
		}
		t.Skipf("redis-server not installed: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &redisServer{addr: "127.0.0.1:" + strconv.Itoa(port)}
	s.cmd = exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(s.stop)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not start: %v", s.addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pause stops the server with SIGSTOP: it keeps its connections open and
// answers nothing, as a hung Redis does.
func (s *redisServer) pause() {
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		panic(err)
	}
}

// stop kills the server by its PID and waits for it; stopping twice is
// fine.
func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_ = s.cmd.Wait()
	s.cmd = nil
}

// text returns what was written so far.
func (s *syncBuffer) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
