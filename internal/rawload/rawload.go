// Package rawload is a load generator for tests that must count every lost
// request. It speaks HTTP/1.1 over plain TCP on a few persistent
// connections and never retries: a request that does not get a whole
// response counts as failed.
//
// Go's own http.Client hides lost requests: its transport notices a
// keep-alive connection the server closed while it sat idle, and retries
// idempotent requests that die on a reused connection. Many clients do
// neither. rawload behaves like them, so a server that closes idle
// keep-alive connections under its clients shows failures here.
//
// Each connection sends one POST at a time, waits for the whole response
// (bufio and [http.ReadResponse]) and sends the next on the same
// connection, unless the response said "Connection: close": then the next
// request goes on a new connection.
package rawload

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a [Load]. Addr is required; the other fields have
// defaults.
type Config struct {
	// Addr is the server's host:port (loopback).
	Addr string
	// Path is the request target. Empty means "/".
	Path string
	// Body is each request's body. Nil means "ping".
	Body []byte
	// Conns is the number of connections, each sending one request at a
	// time. Zero means 4.
	Conns int
	// Pause is the idle time on a connection between a response and the
	// next request: the window in which a server may close it under the
	// client. Zero means none.
	Pause time.Duration
	// MaxRequests bounds the requests sent, all connections together.
	// Zero means 100,000.
	MaxRequests int64
	// Timeout bounds each dial and each request's write and read. Zero
	// means 10 s.
	Timeout time.Duration
}

// Result counts what the clients saw.
type Result struct {
	// Sent counts requests attempted, including those whose connection
	// could not be opened.
	Sent int64
	// OK counts requests answered with a whole 200 response.
	OK int64
	// Failed counts every other request: refused dial, write error,
	// connection closed or reset before a whole response, other status.
	Failed int64
	// Closes counts responses that carried "Connection: close".
	Closes int64
	// Errors holds the first few failures' descriptions.
	Errors []string
	// ByBody counts 200 responses by body (a server may answer its pid).
	ByBody map[string]int64
}

// String summarises r in one line.
func (r Result) String() string {
	return fmt.Sprintf("sent %d, ok %d, failed %d, Connection: close %d; by body %v; first errors %q",
		r.Sent, r.OK, r.Failed, r.Closes, r.ByBody, r.Errors)
}

// Load is a running load. Its methods are safe for concurrent use.
type Load struct {
	cfg     Config
	req     []byte
	stopped atomic.Bool
	wg      sync.WaitGroup

	sent, ok, failed, closes atomic.Int64

	mu     sync.Mutex
	errs   []string
	byBody map[string]int64
}

const maxErrors = 8

// Start opens cfg.Conns connections to cfg.Addr and sends requests on them
// until [Load.Stop] or cfg.MaxRequests.
func Start(cfg Config) (*Load, error) {
	if cfg.Addr == "" {
		return nil, errors.New("rawload: Config.Addr is empty")
	}
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	if cfg.Body == nil {
		cfg.Body = []byte("ping")
	}
	if cfg.Conns <= 0 {
		cfg.Conns = 4
	}
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = 100_000
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	ld := &Load{cfg: cfg, byBody: map[string]int64{}}
	ld.req = []byte("POST " + cfg.Path + " HTTP/1.1\r\nHost: " + cfg.Addr +
		"\r\nContent-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len(cfg.Body)) +
		"\r\n\r\n" + string(cfg.Body))
	for range cfg.Conns {
		ld.wg.Add(1)
		go ld.worker()
	}
	return ld, nil
}

// Stop stops sending, waits for the requests in flight and returns the
// counts.
func (ld *Load) Stop() Result {
	ld.stopped.Store(true)
	ld.wg.Wait()
	return ld.Result()
}

// Result returns the counts so far.
func (ld *Load) Result() Result {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	by := make(map[string]int64, len(ld.byBody))
	for k, v := range ld.byBody {
		by[k] = v
	}
	return Result{Sent: ld.sent.Load(), OK: ld.ok.Load(), Failed: ld.failed.Load(),
		Closes: ld.closes.Load(), Errors: append([]string(nil), ld.errs...), ByBody: by}
}

// WaitOK waits until n requests have succeeded, polling every few
// milliseconds; it returns an error if timeout passes first or the load
// ended.
func (ld *Load) WaitOK(n int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for ld.ok.Load() < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("rawload: %d ok requests after %v, want %d: %v", ld.ok.Load(), timeout, n, ld.Result())
		}
		if ld.done() {
			return fmt.Errorf("rawload: load ended with %d ok requests, want %d: %v", ld.ok.Load(), n, ld.Result())
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

func (ld *Load) done() bool {
	return ld.stopped.Load() || ld.sent.Load() >= ld.cfg.MaxRequests
}

// claim reserves one request of the budget; false when none is left.
func (ld *Load) claim() bool {
	if ld.stopped.Load() {
		return false
	}
	if ld.sent.Add(1) > ld.cfg.MaxRequests {
		ld.sent.Add(-1)
		return false
	}
	return true
}

func (ld *Load) worker() {
	defer ld.wg.Done()
	var c *conn
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for ld.claim() {
		if c == nil {
			nc, err := net.DialTimeout("tcp", ld.cfg.Addr, ld.cfg.Timeout)
			if err != nil {
				ld.fail("dial: " + err.Error())
				// The server is not there: do not spin through the budget.
				time.Sleep(10 * time.Millisecond)
				continue
			}
			c = &conn{Conn: nc, br: bufio.NewReader(nc)}
		}
		keep, err := ld.do(c)
		if err != nil {
			ld.fail(fmt.Sprintf("request %d on a connection: %v", c.n, err))
		}
		if !keep {
			c.Close()
			c = nil
		}
		if ld.cfg.Pause > 0 && !ld.stopped.Load() {
			time.Sleep(ld.cfg.Pause)
		}
	}
}

type conn struct {
	net.Conn
	br *bufio.Reader
	n  int // requests sent on it, for error messages
}

// do sends one request on c and reads its response; it reports whether c
// may carry the next request.
func (ld *Load) do(c *conn) (keep bool, err error) {
	c.n++
	c.SetDeadline(time.Now().Add(ld.cfg.Timeout))
	if _, err := c.Write(ld.req); err != nil {
		return false, fmt.Errorf("write: %w", err)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return false, fmt.Errorf("read response: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return false, fmt.Errorf("read body: %w", err)
	}
	if resp.Close {
		ld.closes.Add(1)
	}
	if resp.StatusCode != http.StatusOK {
		return !resp.Close, fmt.Errorf("status %d, body %q", resp.StatusCode, body)
	}
	ld.ok.Add(1)
	ld.mu.Lock()
	ld.byBody[string(body)]++
	ld.mu.Unlock()
	return !resp.Close, nil
}

func (ld *Load) fail(msg string) {
	ld.failed.Add(1)
	ld.mu.Lock()
	defer ld.mu.Unlock()
	if len(ld.errs) < maxErrors {
		ld.errs = append(ld.errs, msg)
	}
}
