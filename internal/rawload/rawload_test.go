package rawload_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee/internal/rawload"
)

// serve starts an HTTP server on loopback running h and counts the
// connections it accepts.
func serve(t *testing.T, h http.HandlerFunc) (addr string, conns *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = new(atomic.Int64)
	srv := &http.Server{Handler: h, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), conns
}

// run sends exactly n requests and returns the counts.
func run(t *testing.T, cfg rawload.Config, n int64) rawload.Result {
	t.Helper()
	cfg.MaxRequests = n
	ld, err := rawload.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for r := ld.Result(); r.OK+r.Failed < n; r = ld.Result() {
		if time.Now().After(deadline) {
			t.Fatalf("load did not finish %d requests in 20s: %v", n, r)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return ld.Stop()
}

func TestKeepAlive(t *testing.T) {
	addr, conns := serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != "POST" || string(b) != "ping" {
			w.WriteHeader(400)
		}
		io.WriteString(w, "pong")
	})
	r := run(t, rawload.Config{Addr: addr, Conns: 3}, 300)
	if r.Sent != 300 || r.OK != 300 || r.Failed != 0 || r.Closes != 0 || r.ByBody["pong"] != 300 {
		t.Errorf("300 requests to a keep-alive server: %v, want 300 sent, 300 ok with body pong, no failure, no close", r)
	}
	if got := conns.Load(); got != 3 {
		t.Errorf("connections opened = %d, want 3 (one per worker, kept alive)", got)
	}
}

func TestConnectionCloseOpensANewConnection(t *testing.T) {
	addr, conns := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
	})
	r := run(t, rawload.Config{Addr: addr, Conns: 2}, 50)
	if r.OK != 50 || r.Failed != 0 || r.Closes != 50 {
		t.Errorf("50 requests answered with Connection: close: %v, want 50 ok, 50 closes, no failure", r)
	}
	if got := conns.Load(); got != 50 {
		t.Errorf("connections opened = %d, want 50 (a new one after each close)", got)
	}
}

func TestStatusOtherThan200Fails(t *testing.T) {
	addr, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	r := run(t, rawload.Config{Addr: addr, Conns: 1}, 10)
	if r.OK != 0 || r.Failed != 10 || len(r.Errors) == 0 {
		t.Errorf("10 requests answered 503: %v, want 10 failed with errors noted", r)
	}
}

func TestRefusedDialFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := run(t, rawload.Config{Addr: addr, Conns: 1}, 3)
	if r.Sent != 3 || r.Failed != 3 {
		t.Errorf("3 requests to a closed port: %v, want 3 sent, 3 failed", r)
	}
}

// TestNeverRetries runs against a server that answers one request per
// connection without "Connection: close" and then closes the connection
// while the client is idle: the next request on it is lost, and rawload
// must count it lost rather than send it again on a new connection.
func TestNeverRetries(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var served atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				served.Add(1)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}()
		}
	}()
	r := run(t, rawload.Config{Addr: ln.Addr().String(), Conns: 1, Pause: 20 * time.Millisecond}, 10)
	if r.OK != 5 || r.Failed != 5 {
		t.Errorf("10 requests, every second one on a connection closed under the client: %v, want 5 ok, 5 failed", r)
	}
	if got := served.Load(); got != r.OK {
		t.Errorf("server served %d requests, want %d (the ok ones; nothing retried)", got, r.OK)
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := rawload.Start(rawload.Config{}); err == nil {
		t.Errorf("Start(Config{}) = nil error, want one naming Config.Addr")
	}
}
