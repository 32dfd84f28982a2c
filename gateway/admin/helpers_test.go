package admin_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee/gateway/admin"
	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/proxy"
)

// controller is a small real [admin.Controller]: it validates with
// config.Parse, builds with proxy.New and swaps under one lock, so that
// the If-Match comparison and the swap are one atomic step.
type controller struct {
	mu      sync.Mutex
	cur     admin.Version
	p       *proxy.Proxy
	hist    []admin.Version
	raws    map[int][]byte
	bad     map[string]string // hash → why it is bad
	source  []byte            // what Reload reads
	applied int               // successful swaps, for the race test
}

func hashOf(raw []byte) string {
	s := sha256.Sum256(raw)
	return hex.EncodeToString(s[:12])
}

func newController(t testing.TB, raw string) *controller {
	t.Helper()
	c := &controller{raws: map[int][]byte{}, bad: map[string]string{}, source: []byte(raw)}
	if _, err := c.Apply(context.Background(), []byte(raw), admin.ApplyOptions{Source: "file"}); err != nil {
		t.Fatalf("first Apply: %v", err)
	}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.p.Close()
	})
	return c
}

func (c *controller) Current() admin.Version {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

func (c *controller) Apply(ctx context.Context, raw []byte, opts admin.ApplyOptions) (admin.Report, error) {
	cfg, err := config.Parse(raw, config.Options{})
	if err != nil {
		return admin.Report{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if opts.IfMatch != "" && opts.IfMatch != c.cur.Hash {
		return admin.Report{}, fmt.Errorf("%w: running %s, not %s", admin.ErrStale, c.cur.Hash, opts.IfMatch)
	}
	h := hashOf(raw)
	if h == c.cur.Hash {
		return admin.Report{Version: c.cur.Version, Hash: h, Unchanged: true}, nil
	}
	if why, ok := c.bad[h]; ok && !opts.Force {
		return admin.Report{}, fmt.Errorf("%w: %s", admin.ErrBadVersion, why)
	}
	p, err := proxy.New(cfg, proxy.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return admin.Report{}, err
	}
	if c.p != nil {
		c.p.Close()
	}
	c.p = p
	c.cur = admin.Version{Version: c.cur.Version + 1, Hash: h, Source: opts.Source, AppliedAt: time.Unix(1_700_000_000, 0).UTC(), Raw: raw}
	c.raws[c.cur.Version] = raw
	v := c.cur
	v.Raw = nil
	c.hist = append(c.hist, v)
	c.applied++
	return admin.Report{Version: c.cur.Version, Hash: h}, nil
}

func (c *controller) Reload(ctx context.Context) (admin.Report, error) {
	c.mu.Lock()
	src := c.source
	c.mu.Unlock()
	return c.Apply(ctx, src, admin.ApplyOptions{Source: "file"})
}

func (c *controller) History() []admin.Version {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]admin.Version(nil), c.hist...)
}

func (c *controller) Rollback(ctx context.Context, version int, force bool) (admin.Report, error) {
	c.mu.Lock()
	raw, ok := c.raws[version]
	c.mu.Unlock()
	if !ok {
		return admin.Report{}, fmt.Errorf("%w: %d", admin.ErrNoVersion, version)
	}
	return c.Apply(ctx, raw, admin.ApplyOptions{Source: "rollback", Force: force})
}

func (c *controller) Status() admin.Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return admin.Status{State: "idle", Version: c.cur.Version, Hash: c.cur.Hash}
}

func (c *controller) Proxy() *proxy.Proxy {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.p
}

// markBad marks a version bad, as a failed self-check would.
func (c *controller) markBad(raw []byte, why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bad[hashOf(raw)] = why
}

// baseConfig is a gateway with one upstream at addr and two routes, one
// with a rate limit, a fixed concurrency limit and a breaker.
func baseConfig(addr string) string {
	return fmt.Sprintf(`listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: api
    targets: [{url: %q}]
    breaker: {consecutive_failures: 3, open_duration: 5s}
routes:
  - name: limited
    match: {path_prefix: /limited}
    upstream: api
    policies:
      rate_limit: {rate: 10/s}
      concurrency: {max: 8}
  - name: all
    upstream: api
`, addr)
}

// upstream starts a loopback server answering "ok".
func upstream(t testing.TB) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// serve starts the admin API on loopback.
func serve(t testing.TB, opts admin.Options) (*admin.Handler, *httptest.Server) {
	t.Helper()
	if opts.Audit == nil {
		opts.Audit = slog.New(slog.DiscardHandler)
	}
	h := admin.New(opts)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv
}

// send sends a request with an optional bearer token and header pairs and
// returns the response with its body read.
func send(t testing.TB, method, url, token, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// wantStatus fails the test unless resp has status; a problem answer
// must be application/problem+json.
func wantStatus(t testing.TB, what string, resp *http.Response, body []byte, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s: status %d, want %d (body %s)", what, resp.StatusCode, status, bytes.TrimSpace(body))
	}
	if status >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("%s: Content-Type %q, want application/problem+json", what, resp.Header.Get("Content-Type"))
	}
}
