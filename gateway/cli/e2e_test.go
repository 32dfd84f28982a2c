package cli_test

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"errors"
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
	"syscall"
	"testing"
	"time"
)

// The end-to-end tests below run the built levee binary (built once per
// test package, see buildLevee) on loopback, with every loop bounded in
// count and time and every process stopped by its PID. Each logs the
// requests it sent and how they ended.

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// needRedis returns the address of the shared Redis on 127.0.0.1:6379, or
// skips the test (fails it when CI=true) when nothing answers there.
func needRedis(t *testing.T) string {
	t.Helper()
	const addr = "127.0.0.1:6379"
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		return addr
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("Redis is needed at %s and does not answer: %v", addr, err)
	}
	t.Skipf("no Redis at %s (%v); CI=true makes this a failure", addr, err)
	return ""
}

// tally counts requests by how they ended.
type tally struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *tally) add(what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[what]++
}

func (c *tally) get(what string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[what]
}

func (c *tally) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprint(c.counts)
}

// flood runs clients goroutines, each calling one until it returns false,
// at most max times, or until d has passed.
func flood(clients, max int, d time.Duration, one func(client int) bool) {
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			for range max {
				if time.Now().After(deadline) || !one(i) {
					return
				}
			}
		})
	}
	wg.Wait()
}

func newClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

// status sends a GET with header fields h and returns the status, the
// fields of the answer and the time it took; status 0 is a transport
// error.
func status(client *http.Client, url string, h map[string]string) (int, http.Header, time.Duration) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, time.Since(start)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header, time.Since(start)
}

// TestE2ESharedRedisLimit runs two gateways sharing one Redis-backed limit
// of 40/s with a burst of 10, floods both for two seconds, and checks the
// total they admitted together is the limit's, not twice it.
func TestE2ESharedRedisLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	redis := needRedis(t)
	bin := buildLevee(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	route := fmt.Sprintf("e2e-shared-%d", time.Now().UnixNano()) // the Redis keys are levee:gw:ROUTE:...
	var gws [2]*gatewayProcess
	for i := range gws {
		file := write(t, t.TempDir(), "levee.yaml", fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [{url: %q}]}]
redis: {addrs: [%q], timeout: 500ms}
routes:
  - name: %s
    upstream: app
    policies:
      rate_limit: {rate: 40/s, burst: 10, redis: true, instances: 2}
admin: {address: "127.0.0.1:0"}
`, up.URL, redis, route))
		gws[i] = startGateway(t, bin, file, []string{"public"})
	}
	client := newClient()
	var admitted [2]atomic.Int64
	var counts tally
	start := time.Now()
	flood(8, 2000, 2*time.Second, func(c int) bool {
		g := c % 2
		code, h, _ := status(client, "http://"+gws[g].addrs["public"]+"/", nil)
		switch {
		case code == http.StatusOK:
			admitted[g].Add(1)
			counts.add("200")
		case code == http.StatusTooManyRequests:
			counts.add("429")
		default:
			counts.add(fmt.Sprintf("other %d", code))
		}
		if h.Get("Levee-RateLimit-Fallback") != "" {
			counts.add("fallback")
		}
		return true
	})
	elapsed := time.Since(start)
	a, b := admitted[0].Load(), admitted[1].Load()
	want := 10 + 40*elapsed.Seconds()
	t.Logf("shared limit: %v over %v; admitted %d + %d = %d, the limit allows %.0f", &counts, elapsed.Round(time.Millisecond), a, b, a+b, want)
	if n := counts.get("fallback"); n != 0 {
		t.Errorf("%d answers were decided by the fallback; Redis was up", n)
	}
	if total := float64(a + b); total < 0.75*want || total > 1.25*want {
		t.Errorf("admitted %d in all, want about %.0f (the shared limit), not %.0f (each gateway its own)", a+b, want, 2*want)
	}
	if a == 0 || b == 0 {
		t.Errorf("admitted %d and %d: both gateways should admit part of the limit", a, b)
	}
	if counts.get("429") == 0 || counts.get("other") != 0 {
		t.Errorf("answers %v: want 429s and no other failure", &counts)
	}
}

// TestE2ERedisKilledFallsBack starts its own redis-server on a free
// loopback port, kills it mid-run, and checks the gateway goes on deciding
// within redis.timeout by its local_share fallback, saying so in
// Levee-RateLimit-Fallback and in its log.
func TestE2ERedisKilledFallsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	server, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server is needed: %v", err)
		}
		t.Skipf("no redis-server: %v", err)
	}
	bin := buildLevee(t)
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	rs := exec.Command(server, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no")
	if err := rs.Start(); err != nil {
		t.Fatal(err)
	}
	rsDone := make(chan struct{})
	go func() { _ = rs.Wait(); close(rsDone) }()
	defer func() {
		_ = syscall.Kill(rs.Process.Pid, syscall.SIGKILL)
		<-rsDone
	}()
	if !waitFor(10*time.Second, func() bool { return redisPing(addr) }) {
		t.Fatalf("redis-server on %s did not answer PING within 10s", addr)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	const timeout = 150 * time.Millisecond
	file := write(t, t.TempDir(), "levee.yaml", fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [{url: %q}]}]
redis: {addrs: [%q], timeout: %v}
routes:
  - name: all
    upstream: app
    policies:
      rate_limit: {rate: 1000/s, redis: true, on_redis_failure: local_share, instances: 2}
admin: {address: "127.0.0.1:0"}
`, up.URL, addr, timeout))
	g := startGateway(t, bin, file, []string{"public"})
	url := "http://" + g.addrs["public"] + "/"
	client := newClient()

	var before, after tally
	var slowest time.Duration
	var mu sync.Mutex
	run := func(c *tally, n int) {
		flood(4, n, 5*time.Second, func(int) bool {
			code, h, took := status(client, url, nil)
			c.add(fmt.Sprint(code))
			if h.Get("Levee-RateLimit-Fallback") == "local_share" {
				c.add("fallback")
			}
			if c == &after {
				mu.Lock()
				slowest = max(slowest, took)
				mu.Unlock()
			}
			return true
		})
	}
	run(&before, 50)
	if err := syscall.Kill(rs.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-rsDone
	run(&after, 100)
	t.Logf("Redis up: %v; Redis killed: %v; slowest answer after the kill %v (redis.timeout %v)", &before, &after, slowest, timeout)
	if before.get("200") != 200 || before.get("fallback") != 0 {
		t.Errorf("with Redis up: %v, want 200 × 200 and no fallback", &before)
	}
	if after.get("200") != 400 {
		t.Errorf("after the kill: %v, want every one of 400 requests admitted by the local share", &after)
	}
	if after.get("fallback") < 390 { // the first few may race the switch
		t.Errorf("after the kill: %d answers say Levee-RateLimit-Fallback: local_share, want (nearly) all 400", after.get("fallback"))
	}
	if slowest > timeout+250*time.Millisecond {
		t.Errorf("the slowest answer after the kill took %v, want within redis.timeout %v (+250ms)", slowest, timeout)
	}
	if log := g.logText(); !strings.Contains(log, "using fallback") {
		t.Errorf("the log does not say the limit fell back:\n%s", log)
	}
}

// redisPing reports whether a Redis answers PING at addr.
func redisPing(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// TestE2ECriticalityUnderOverload floods a slow upstream through a route
// that sheds at 8 requests in flight: 18 SHEDDABLE clients and 6 CRITICAL
// ones. CRITICAL requests (refused only at 16 in flight) all succeed,
// while SHEDDABLE ones are refused with 503 shed.
func TestE2ECriticalityUnderOverload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildLevee(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	file := write(t, t.TempDir(), "levee.yaml", fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [{url: %q}]}]
routes:
  - name: all
    upstream: app
    policies:
      shed: {max_in_flight: 8}
      concurrency: {max: 64}
admin: {address: "127.0.0.1:0"}
`, up.URL))
	g := startGateway(t, bin, file, []string{"public"})
	url := "http://" + g.addrs["public"] + "/"
	client := newClient()
	var crit, shed tally
	flood(24, 200, 2*time.Second, func(c int) bool {
		who, level := &shed, "SHEDDABLE"
		if c < 6 {
			who, level = &crit, "CRITICAL"
		}
		code, h, _ := status(client, url, map[string]string{"X-Criticality": level})
		if code == http.StatusServiceUnavailable {
			who.add("503 " + h.Get("Levee-Reason"))
		} else {
			who.add(fmt.Sprint(code))
		}
		return true
	})
	t.Logf("CRITICAL: %v; SHEDDABLE: %v", &crit, &shed)
	critAll := crit.get("200") + crit.get("503 shed")
	shedAll := shed.get("200") + shed.get("503 shed")
	if critAll == 0 || shedAll == 0 {
		t.Fatalf("no requests counted: CRITICAL %v, SHEDDABLE %v", &crit, &shed)
	}
	if ok := float64(crit.get("200")) / float64(critAll); ok < 0.99 {
		t.Errorf("CRITICAL success rate %.3f, want ≥ 0.99", ok)
	}
	if refused := float64(shed.get("503 shed")) / float64(shedAll); refused < 0.3 {
		t.Errorf("SHEDDABLE refused %.3f, want ≥ 0.3 under overload", refused)
	}
	if shed.get("200") == 0 {
		t.Errorf("no SHEDDABLE request succeeded: the route sheds them only at 8 in flight")
	}
}

// TestE2EStreamingThroughEveryPolicy sends Server-Sent Events, a chunked
// stream and a WebSocket through a route with every policy on (rate
// limit, shedding, concurrency, breaker, retry with budget, hedging,
// fallback, faults at 0%, timeouts). The streams move in lock step: the
// upstream sends its next piece only once the client has read the last,
// so a proxy that held flushes back would stall them.
func TestE2EStreamingThroughEveryPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildLevee(t)
	const pieces = 5
	wsDone := make(chan time.Time, 1) // when the upstream's WebSocket handler returned
	var mu sync.Mutex
	acks := map[string]chan struct{}{} // stream path → one receive per piece read
	ack := func(path string) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		if acks[path] == nil {
			acks[path] = make(chan struct{}, pieces)
		}
		return acks[path]
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sse", "/chunked":
			if r.URL.Path == "/sse" {
				w.Header().Set("Content-Type", "text/event-stream")
			}
			rc := http.NewResponseController(w)
			for i := range pieces {
				fmt.Fprintf(w, "data: piece %d\n\n", i)
				if err := rc.Flush(); err != nil {
					return
				}
				select {
				case <-ack(r.URL.Path):
				case <-time.After(5 * time.Second):
					return // the client never saw the piece: the proxy held it
				case <-r.Context().Done():
					return
				}
			}
		case "/ws":
			wsEcho(w, r)
			wsDone <- time.Now()
		default:
			io.WriteString(w, "ok")
		}
	}))
	defer up.Close()
	file := write(t, t.TempDir(), "levee.yaml", fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: app
    targets: [{url: %q}]
    breaker: {consecutive_failures: 50}
routes:
  - name: all
    upstream: app
    timeout: 15s
    policies:
      rate_limit: {rate: 1000/s}
      shed: {max_in_flight: 100}
      concurrency: {max: 100}
      retry: {attempts: 2, per_try_timeout: 5s, budget: {ratio: 20%%}}
      hedge: {delay: 3s}
      fallback: {status: 503, body: "fallback"}
      fault: {delay: {duration: 1s, percent: 0%%}, abort: {status: 500, percent: 0%%}}
admin: {address: "127.0.0.1:0"}
`, up.URL))
	g := startGateway(t, bin, file, []string{"public"})
	base := "http://" + g.addrs["public"]
	var counts tally

	for _, path := range []string{"/sse", "/chunked"} {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			resp, err := newClient().Get(base + path)
			if err != nil {
				counts.add("failed")
				t.Fatalf("GET %s: %v", path, err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			got := 0
			for i := range pieces {
				line, err := br.ReadString('\n')
				if err != nil || line != fmt.Sprintf("data: piece %d\n", i) {
					counts.add("failed")
					t.Fatalf("%s piece %d: %q, %v (status %d)", path, i, line, err, resp.StatusCode)
				}
				if _, err := br.ReadString('\n'); err != nil { // the blank line
					t.Fatal(err)
				}
				got++
				ack(path) <- struct{}{} // the upstream may send the next
			}
			if rest, _ := io.ReadAll(br); len(rest) != 0 {
				t.Errorf("%s: %q after the last piece", path, rest)
			}
			counts.add("stream ok")
			t.Logf("%s: %d pieces, each read before the next was sent; status %d, Content-Type %q", path, got, resp.StatusCode, resp.Header.Get("Content-Type"))
		})
	}

	t.Run("websocket", func(t *testing.T) {
		c, br := wsDial(t, g.addrs["public"], "/ws")
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if msg, err := wsRead(br); err != nil || msg != "hello" {
			counts.add("failed")
			t.Fatalf("first message from the upstream: %q, %v; want hello", msg, err)
		}
		for i := range pieces {
			want := fmt.Sprintf("message %d", i)
			if err := wsWrite(c, want, true); err != nil {
				t.Fatal(err)
			}
			msg, err := wsRead(br)
			if err != nil || msg != "echo: "+want {
				counts.add("failed")
				t.Fatalf("echo %d: %q, %v", i, msg, err)
			}
		}
		counts.add("websocket ok")
		closed := time.Now()
		c.Close()
		select {
		case done := <-wsDone:
			t.Logf("the upstream's side ended %v after the client closed", done.Sub(closed).Round(time.Millisecond))
		case <-time.After(5 * time.Second):
			t.Errorf("the upstream's side of the WebSocket still open 5s after the client closed")
		}
	})

	// The plain path is served too, and no request was refused.
	for range 20 {
		code, h, _ := status(newClient(), base+"/", nil)
		counts.add(fmt.Sprintf("plain %d", code))
		if h.Get("Levee-Reason") != "" {
			counts.add("refused " + h.Get("Levee-Reason"))
		}
	}
	t.Logf("streaming through every policy: %v", &counts)
	if counts.get("plain 200") != 20 || counts.get("failed") != 0 {
		t.Errorf("answers %v: want 20 plain 200s and no failure", &counts)
	}
}

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsEcho is a minimal WebSocket server (RFC 6455, text frames under 126
// bytes): it sends "hello", then answers every message m with "echo: m".
func wsEcho(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "not a websocket upgrade", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		wsAccept(r.Header.Get("Sec-WebSocket-Key")))
	if brw.Flush() != nil || wsWrite(conn, "hello", false) != nil {
		return
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	for {
		msg, err := wsRead(brw.Reader)
		if err != nil || wsWrite(conn, "echo: "+msg, false) != nil {
			return
		}
	}
}

// wsDial opens a WebSocket to addr's path with a hand-made handshake.
func wsDial(t *testing.T, addr, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	key := base64.StdEncoding.EncodeToString([]byte("levee-e2e-nonce!"))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", path, addr, key)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		t.Fatalf("handshake: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
		c.Close()
		t.Fatalf("handshake answer %d, accept %q; want 101, %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Accept"), wsAccept(key))
	}
	return c, br
}

// wsWrite sends one text frame; a client masks it, as RFC 6455 requires.
func wsWrite(w io.Writer, msg string, mask bool) error {
	if len(msg) >= 126 {
		return errors.New("message too long for this minimal codec")
	}
	frame := []byte{0x81, byte(len(msg))}
	payload := []byte(msg)
	if mask {
		key := [4]byte{1, 2, 3, 4}
		frame[1] |= 0x80
		frame = append(frame, key[:]...)
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	_, err := w.Write(append(frame, payload...))
	return err
}

// wsRead reads one text frame under 126 bytes, unmasking it if masked.
func wsRead(r *bufio.Reader) (string, error) {
	var head [2]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return "", err
	}
	if head[0]&0x0f != 1 {
		return "", fmt.Errorf("frame opcode %d, want text", head[0]&0x0f)
	}
	n := int(head[1] & 0x7f)
	if n >= 126 {
		return "", errors.New("frame too long for this minimal codec")
	}
	var key [4]byte
	masked := head[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return "", err
		}
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return "", err
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return string(payload), nil
}
