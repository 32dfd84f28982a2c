package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSmoothSchedule(t *testing.T) {
	tests := []struct {
		weights []int
		want    []int32
	}{
		{[]int{1}, []int32{0}},
		{[]int{1, 1, 1}, []int32{0, 1, 2}},
		{[]int{3, 1}, []int32{0, 0, 1, 0}},
		{[]int{200, 100}, []int32{0, 1, 0}}, // divided by the common divisor
		{[]int{5, 1, 1}, []int32{0, 0, 1, 0, 2, 0, 0}},
	}
	for _, tt := range tests {
		if got := smoothSchedule(tt.weights); !slices.Equal(got, tt.want) {
			t.Errorf("smoothSchedule(%v) = %v, want %v", tt.weights, got, tt.want)
		}
	}
}

// TestWeightedRoundRobin sends requests through an upstream of two real
// targets weighted 3:1 and counts where they went.
func TestWeightedRoundRobin(t *testing.T) {
	a, b := echoUpstream(t, "a"), echoUpstream(t, "b")
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: pool, targets: [{url: %q, weight: 3}, {url: %q}]}]
routes: [{name: all, upstream: pool}]
`, a.URL, hostPort(b)), nil)
	counts := map[string]int{}
	for range 40 {
		resp, _ := get(t, gw.URL+"/")
		counts[resp.Header.Get("X-Upstream")]++
	}
	if counts["a"] != 30 || counts["b"] != 10 {
		t.Errorf("40 requests went %v, want a:30 b:10", counts)
	}
}

// TestUpstreamFailures makes upstreams fail in every way a connection can
// and checks each answer is a 502 or 504 with a problem body and a reason,
// and that the gateway goes on serving.
func TestUpstreamFailures(t *testing.T) {
	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}()
	reset := rawUpstream(t, func(c net.Conn, _ <-chan struct{}) {
		_ = c.(*net.TCPConn).SetLinger(0) // close with RST
		c.Close()
	})
	garbage := rawUpstream(t, func(c net.Conn, _ <-chan struct{}) {
		io.WriteString(c, "this is not HTTP\r\n\r\n")
		c.Close()
	})
	hang := rawUpstream(t, func(c net.Conn, done <-chan struct{}) { <-done })
	headerHang := rawUpstream(t, func(c net.Conn, done <-chan struct{}) { <-done })
	truncated := rawUpstream(t, func(c net.Conn, _ <-chan struct{}) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n") // the header never ends
		c.Close()
	})
	ok := echoUpstream(t, "ok")

	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - {name: refused, targets: [{url: %q}]}
  - {name: reset, targets: [{url: %q}]}
  - {name: garbage, targets: [{url: %q}]}
  - {name: hang, targets: [{url: %q}]}
  - {name: header-hang, targets: [{url: %q}], transport: {response_header_timeout: 100ms}}
  - {name: truncated, targets: [{url: %q}]}
  - {name: ok, targets: [{url: %q}]}
routes:
  - {name: refused, upstream: refused, match: {path_prefix: /refused}}
  - {name: reset, upstream: reset, match: {path_prefix: /reset}}
  - {name: garbage, upstream: garbage, match: {path_prefix: /garbage}}
  - {name: hang, upstream: hang, match: {path_prefix: /hang}, timeout: 200ms}
  - {name: header-hang, upstream: header-hang, match: {path_prefix: /header-hang}}
  - {name: truncated, upstream: truncated, match: {path_prefix: /truncated}}
  - {name: ok, upstream: ok}
`, refused, reset, garbage, hang, headerHang, truncated, ok.URL), nil)

	tests := []struct {
		path   string
		status int
		reason string
	}{
		{"/refused", http.StatusBadGateway, ReasonConnectFailure},
		{"/reset", http.StatusBadGateway, ReasonReset},
		{"/garbage", http.StatusBadGateway, ReasonBadResponse},
		{"/hang", http.StatusGatewayTimeout, ReasonTimeout},
		{"/header-hang", http.StatusGatewayTimeout, ReasonTimeout},
		{"/truncated", http.StatusBadGateway, ReasonReset},
	}
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.path, "/"), func(t *testing.T) {
			start := time.Now()
			resp, body := get(t, gw.URL+tt.path)
			checkProblem(t, resp, body, tt.status, tt.reason)
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("answer took %v; the route timeout is at most 15s, the hang ones 200ms", elapsed)
			}
			if resp, _ := get(t, gw.URL+"/fine"); resp.StatusCode != http.StatusOK {
				t.Errorf("after %s, GET /fine = %d, want 200", tt.path, resp.StatusCode)
			}
		})
	}
}

// TestRequestBodyLimit checks max_request_body for a declared length (refused
// before forwarding) and for a chunked body (refused while forwarding).
func TestRequestBodyLimit(t *testing.T) {
	up := echoUpstream(t, "a")
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: a, targets: [{url: %q}]}]
routes: [{name: all, upstream: a, max_request_body: 1KiB}]
`, up.URL), nil)

	req, _ := http.NewRequest(http.MethodPost, gw.URL+"/", strings.NewReader(strings.Repeat("x", 1024)))
	if resp, body := do(t, req); resp.StatusCode != http.StatusOK || decodeSeen(t, body).Body != strings.Repeat("x", 1024) {
		t.Errorf("a body of exactly 1KiB: status %d, want 200 and the body forwarded", resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodPost, gw.URL+"/", strings.NewReader(strings.Repeat("x", 1025)))
	resp, body := do(t, req)
	checkProblem(t, resp, body, http.StatusRequestEntityTooLarge, ReasonBodyTooLarge)

	// Without a Content-Length, the limit is found while reading.
	req, _ = http.NewRequest(http.MethodPost, gw.URL+"/", io.MultiReader(strings.NewReader(strings.Repeat("x", 4096))))
	req.ContentLength = -1
	resp, body = do(t, req)
	checkProblem(t, resp, body, http.StatusRequestEntityTooLarge, ReasonBodyTooLarge)
}

// TestRequestHeaderLimit checks max_request_headers: a request whose header
// fields pass the route's limit is refused with 431 and a problem body
// before it reaches the upstream; one under it, and the same request on a
// route without the limit, are forwarded.
func TestRequestHeaderLimit(t *testing.T) {
	var hits atomic.Int32
	up := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusOK)
	})
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: a, targets: [{url: %q}]}]
routes:
  - {name: small, upstream: a, match: {path_prefix: /small}, max_request_headers: 2KiB}
  - {name: open, upstream: a, match: {path_prefix: /open}}
`, up), nil)

	send := func(path string, size int) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, gw.URL+path, nil)
		req.Header.Set("X-Padding", strings.Repeat("p", size))
		return do(t, req)
	}
	if resp, _ := send("/small", 512); resp.StatusCode != http.StatusOK {
		t.Errorf("512 bytes of header on a 2KiB route: status %d, want 200", resp.StatusCode)
	}
	before := hits.Load()
	resp, body := send("/small", 4096)
	checkProblem(t, resp, body, http.StatusRequestHeaderFieldsTooLarge, ReasonHeadersTooLarge)
	if hits.Load() != before {
		t.Error("a request over the header limit reached the upstream")
	}
	if resp, _ := send("/open", 4096); resp.StatusCode != http.StatusOK {
		t.Errorf("4KiB of header on a route without a limit: status %d, want 200", resp.StatusCode)
	}
}

// TestStreaming checks that a streamed answer reaches the client as the
// upstream flushes it, not when it ends: the client reads the first event
// while the upstream is still waiting to send the second.
func TestStreaming(t *testing.T) {
	release := make(chan struct{})
	up := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		io.WriteString(w, "data: second\n\n")
	})
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: a, targets: [{url: %q}]}]
routes: [{name: all, upstream: a}]
`, up), nil)
	resp, err := http.Get(gw.URL + "/events")
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	close(release)
	if err != nil || line != "data: first\n" {
		t.Fatalf("first line = %q, %v; want %q", line, err, "data: first\n")
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "\ndata: second\n\n" {
		t.Errorf("rest = %q, want the second event", rest)
	}
}

// TestUpgrade checks that an Upgrade request (as WebSocket makes) is passed
// through and both directions flow over the upgraded connection, also
// through the policies that wrap the upstream's answer (retry with a
// per-try timeout, hedging).
func TestUpgrade(t *testing.T) {
	for _, tc := range []struct{ name, policies string }{
		{"plain", "{}"},
		{"retry per try", "{retry: {attempts: 2, per_try_timeout: 5s}}"},
		{"hedge", "{hedge: {delay: 5s}}"},
	} {
		t.Run(tc.name, func(t *testing.T) { testUpgrade(t, tc.policies) })
	}
}

func testUpgrade(t *testing.T, policies string) {
	up := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		io.WriteString(brw, "echo: "+line)
		brw.Flush()
	})
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: a, targets: [{url: %q}]}]
routes: [{name: all, upstream: a, policies: %s}]
`, up, policies), nil)
	c, err := net.DialTimeout("tcp", hostPortOf(gw.URL), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status = %d, want 101", resp.StatusCode)
	}
	io.WriteString(c, "hello\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "echo: hello\n" {
		t.Errorf("over the upgraded connection got %q, %v; want %q", line, err, "echo: hello\n")
	}
}
