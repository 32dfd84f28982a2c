package proxy

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/gateway/config"
)

// seen is what the echo upstream reports about the request it got.
type seen struct {
	Method  string      `json:"method"`
	Path    string      `json:"path"`
	RawPath string      `json:"raw_path"`
	Query   string      `json:"query"`
	Host    string      `json:"host"`
	Header  http.Header `json:"header"`
	Body    string      `json:"body"`
	Server  string      `json:"server"`
}

// echoUpstream starts a loopback server that answers every request with a
// JSON description of it, named name.
func echoUpstream(t *testing.T, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", name)
		_ = json.NewEncoder(w).Encode(seen{
			Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, Query: r.URL.RawQuery,
			Host: r.Host, Header: r.Header, Body: string(body), Server: name,
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// hostPort is the host:port of a test server.
func hostPort(srv *httptest.Server) string { return strings.TrimPrefix(srv.URL, "http://") }

// gateway builds a Proxy from YAML and serves it on loopback as the
// listener named "public". The proxy's log goes to the test's log.
func gateway(t *testing.T, yaml string, clk clock.Clock) (*Proxy, *httptest.Server) {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), config.Options{})
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	p, err := New(cfg, Options{Clock: clk, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h, err := p.Handler("public")
	if err != nil {
		t.Fatalf("Handler: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); p.Close() })
	return p, srv
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// do sends req and returns the response with its body read.
func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return resp, body
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

// decodeSeen reads the echo upstream's report.
func decodeSeen(t *testing.T, body []byte) seen {
	t.Helper()
	var s seen
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("upstream report %q: %v", body, err)
	}
	return s
}

// checkProblem checks that a gateway answer has status, the reason in
// Levee-Reason, and a problem+json body saying the same.
func checkProblem(t *testing.T, resp *http.Response, body []byte, status int, reason string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status = %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	if got := resp.Header.Get(ReasonHeader); got != reason {
		t.Errorf("%s = %q, want %q", ReasonHeader, got, reason)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var pb problem
	if err := json.Unmarshal(body, &pb); err != nil {
		t.Fatalf("body %q is not a problem document: %v", body, err)
	}
	if pb.Status != status || pb.Reason != reason || pb.Title == "" || pb.Detail == "" {
		t.Errorf("problem = %+v, want status %d, reason %q, a title and a detail", pb, status, reason)
	}
}

// rawUpstream is a loopback TCP server whose connections are handled by
// serve after the request header was read; it stands for upstreams that
// break HTTP. done is closed when the test ends.
func rawUpstream(t *testing.T, serve func(c net.Conn, done <-chan struct{})) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					c.Close()
					return
				}
				serve(c, done)
			}()
		}
	}()
	t.Cleanup(func() {
		close(done)
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// echoUpstreamWith is echoUpstream with edit run on every response first;
// it returns the server's URL.
func echoUpstreamWith(t *testing.T, edit func(w http.ResponseWriter)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		edit(w)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(seen{Method: r.Method, Path: r.URL.Path, Host: r.Host, Header: r.Header})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// echoUpstreamHandler starts a loopback upstream serving h; it returns the
// server's URL.
func echoUpstreamHandler(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func hostPortOf(url string) string { return strings.TrimPrefix(url, "http://") }
