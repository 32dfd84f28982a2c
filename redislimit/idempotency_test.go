package redislimit_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/levee-go/levee/leveehttp"
	"github.com/levee-go/levee/redislimit"
)

func newIdemStore(t testing.TB, c redis.UniversalClient, prefix string) *redislimit.IdempotencyStore {
	t.Helper()
	s, err := redislimit.NewIdempotencyStore(redislimit.IdempotencyConfig{Client: c, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func postKey(t *testing.T, url, key string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader("item=book"))
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("POST %s: %v", url, err)
		return 0, nil, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestIdempotencyStoreClaimSettle(t *testing.T) {
	c := requireRedis(t)
	p := testPrefix(t, c)
	s := newIdemStore(t, c, p)
	ctx := context.Background()
	if held, err := s.Claim(ctx, "k", []byte("P1"), time.Minute); held != nil || err != nil {
		t.Fatalf("Claim = %q, %v; want the claim", held, err)
	}
	if held, err := s.Claim(ctx, "k", []byte("P2"), time.Minute); string(held) != "P1" || err != nil {
		t.Fatalf("second Claim = %q, %v; want P1 held", held, err)
	}
	if pttl := c.PTTL(ctx, p+"k").Val(); pttl <= 0 || pttl > time.Minute {
		t.Errorf("claim's expiry = %v, want the lease", pttl)
	}
	if err := s.Settle(ctx, "k", []byte("P-stale"), []byte("D-stale"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if v := c.Get(ctx, p+"k").Val(); v != "P1" {
		t.Errorf("a stale settle changed the key to %q", v)
	}
	if err := s.Settle(ctx, "k", []byte("P1"), []byte("D1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if v, pttl := c.Get(ctx, p+"k").Val(), c.PTTL(ctx, p+"k").Val(); v != "D1" || pttl <= time.Minute {
		t.Errorf("after settling: %q expiring in %v, want D1 for the TTL", v, pttl)
	}
	if _, err := s.Claim(ctx, "free", []byte("P"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Settle(ctx, "free", []byte("P"), nil, 0); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, p+"free").Val(); n != 0 {
		t.Errorf("a settle with nil left the key in place")
	}
	if _, err := redislimit.NewIdempotencyStore(redislimit.IdempotencyConfig{}); err == nil || !strings.Contains(err.Error(), "Client") {
		t.Errorf("NewIdempotencyStore without a client = %v, want an error naming Client", err)
	}
}

// TestIdempotencyStoreConcurrentDuplicates: 100 concurrent requests with
// one key through the middleware on real Redis run the handler once; every
// other request gets 409 or the replay.
func TestIdempotencyStoreConcurrentDuplicates(t *testing.T) {
	c := requireRedis(t)
	s := newIdemStore(t, c, testPrefix(t, c))
	var runs atomic.Int64
	srv := httptest.NewServer(leveehttp.Idempotency(s, leveehttp.IdempotencyOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := runs.Add(1)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "order %d", n)
	})))
	defer srv.Close()
	var wg sync.WaitGroup
	var first, conflict, replay atomic.Int64
	for range 100 {
		wg.Go(func() {
			st, h, body := postKey(t, srv.URL+"/orders", "one-key")
			switch {
			case st == http.StatusConflict:
				conflict.Add(1)
			case st == http.StatusCreated && body == "order 1" && h.Get("Idempotent-Replayed") == "true":
				replay.Add(1)
			case st == http.StatusCreated && body == "order 1":
				first.Add(1)
			default:
				t.Errorf("unexpected answer %d %q", st, body)
			}
		})
	}
	wg.Wait()
	if runs.Load() != 1 || first.Load() != 1 || conflict.Load()+replay.Load() != 99 {
		t.Errorf("runs %d, first answers %d, 409s %d, replays %d; want 1 run, 99 refused or replayed",
			runs.Load(), first.Load(), conflict.Load(), replay.Load())
	}
}

// helperEnv makes the test binary a server that claims keys in Redis and
// never answers, for TestIdempotencyStoreCrashedHolder to kill.
const helperEnv = "LEVEE_IDEM_HELPER_PREFIX"

func TestIdempotencyHelperProcess(t *testing.T) {
	prefix := os.Getenv(helperEnv)
	if prefix == "" {
		t.Skip("run by TestIdempotencyStoreCrashedHolder")
	}
	c := redis.NewClient(&redis.Options{Addr: mainRedis})
	s := newIdemStore(t, c, prefix)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(ln.Addr().String())
	h := leveehttp.Idempotency(s, leveehttp.IdempotencyOptions{Lease: time.Second})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {} // the process is killed mid-request
	}))
	_ = http.Serve(ln, h)
}

// TestIdempotencyStoreCrashedHolder: a process killed while running a
// request leaves its claim in Redis; a retry gets 409 until the lease ends,
// then runs.
func TestIdempotencyStoreCrashedHolder(t *testing.T) {
	c := requireRedis(t)
	prefix := testPrefix(t, c)
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdempotencyHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+prefix)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper printed no address: %v", err)
	}
	go func() { // its connection breaks when the helper dies
		req, _ := http.NewRequest("POST", "http://"+strings.TrimSpace(addr)+"/orders", strings.NewReader("item=book"))
		req.Header.Set("Idempotency-Key", "crash-key")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Second)
	for {
		keys, _ := c.Keys(ctx, prefix+"*").Result()
		if len(keys) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the helper claimed no key within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Process.Kill() // by PID
	_ = cmd.Wait()
	killed = true

	var runs atomic.Int64
	srv := httptest.NewServer(leveehttp.Idempotency(newIdemStore(t, c, prefix), leveehttp.IdempotencyOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs.Add(1)
		w.WriteHeader(http.StatusCreated)
	})))
	defer srv.Close()
	if st, _, _ := postKey(t, srv.URL+"/orders", "crash-key"); st != http.StatusConflict {
		t.Fatalf("retry while the dead holder's lease lasts = %d, want 409", st)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		st, _, _ := postKey(t, srv.URL+"/orders", "crash-key")
		if st == http.StatusCreated {
			break
		}
		if st != http.StatusConflict || time.Now().After(deadline) {
			t.Fatalf("retry = %d; want 409 until the 1s lease ends, then 201 within 5s", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if runs.Load() != 1 {
		t.Errorf("handler ran %d times after the lease, want 1", runs.Load())
	}
}

// TestIdempotencyStoreUnreachable: a store whose Redis does not answer
// makes the middleware answer 503 (or run unprotected with FailOpen).
func TestIdempotencyStoreUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	s := newIdemStore(t, c, "x:")
	if _, err := s.Claim(context.Background(), "k", []byte("P"), time.Second); err == nil || !strings.Contains(err.Error(), "idempotency claim") {
		t.Errorf("Claim on an unreachable Redis = %v, want an error", err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) })
	for _, failOpen := range []bool{false, true} {
		srv := httptest.NewServer(leveehttp.Idempotency(s, leveehttp.IdempotencyOptions{FailOpen: failOpen})(ok))
		st, _, _ := postKey(t, srv.URL, "k")
		srv.Close()
		want := http.StatusServiceUnavailable
		if failOpen {
			want = http.StatusCreated
		}
		if st != want {
			t.Errorf("FailOpen %v: %d, want %d", failOpen, st, want)
		}
	}
}

func BenchmarkIdempotencyStore(b *testing.B) {
	c := requireRedis(b)
	s := newIdemStore(b, c, testPrefix(b, c))
	ctx := context.Background()
	pending, done := []byte("P-0123456789abcdef0123456789abcdef"), []byte("D-response")
	b.Run("claim-settle", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			k := fmt.Sprint("k", i)
			if _, err := s.Claim(ctx, k, pending, time.Minute); err != nil {
				b.Fatal(err)
			}
			if err := s.Settle(ctx, k, pending, done, time.Minute); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("held", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if held, err := s.Claim(ctx, "k0", pending, time.Minute); err != nil || held == nil {
				b.Fatal(held, err)
			}
		}
	})
}

var _ leveehttp.IdempotencyStore = (*redislimit.IdempotencyStore)(nil)
