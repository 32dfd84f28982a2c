package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/levee-go/levee/gateway/config"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) records(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("access log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestAccessLogAndRequestID sends a proxied request, one to a dead target
// and one without a route, and checks each answer's request id, what the
// upstream saw, and the access log records.
func TestAccessLogAndRequestID(t *testing.T) {
	up := echoUpstreamWith(t, func(w http.ResponseWriter) {
		w.Header().Set(RequestIDHeader, "echoed-by-upstream")
		w.Header().Set(ReasonHeader, "spoofed")
	})
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: a, targets: [{url: %q}]}, {name: dead, targets: [{url: %q}]}]
routes:
  - {name: api, upstream: a, match: {path_prefix: /api}}
  - {name: dead, upstream: dead, match: {path_prefix: /dead}}
`, up, deadAddr)), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf syncBuffer
	p, err := New(cfg, Options{AccessLog: slog.New(slog.NewJSONHandler(&buf, nil)), Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	h, _ := p.Handler("public")
	gw := httptest.NewServer(h)
	defer gw.Close()

	req, _ := http.NewRequest(http.MethodGet, gw.URL+"/api/x?token=secret", nil)
	req.Header.Set(RequestIDHeader, "client-id-1")
	resp, body := do(t, req)
	if got := resp.Header.Values(RequestIDHeader); len(got) != 1 || got[0] != "client-id-1" {
		t.Errorf("answer's %s = %q, want the client's client-id-1 once", RequestIDHeader, got)
	}
	if got := resp.Header.Get(ReasonHeader); got != "" {
		t.Errorf("an upstream's answer carries %s %q, want none", ReasonHeader, got)
	}
	if got := decodeSeen(t, body).Header.Get(RequestIDHeader); got != "client-id-1" {
		t.Errorf("upstream got %s %q, want client-id-1", RequestIDHeader, got)
	}

	req, _ = http.NewRequest(http.MethodGet, gw.URL+"/dead", nil)
	req.Header.Set(RequestIDHeader, "bad id with spaces")
	resp, _ = do(t, req)
	id := resp.Header.Get(RequestIDHeader)
	if len(id) != 32 {
		t.Errorf("answer to a malformed id has %s %q, want a new 32-digit one", RequestIDHeader, id)
	}
	get(t, gw.URL+"/nowhere")

	recs := buf.records(t)
	if len(recs) != 3 {
		t.Fatalf("%d access log records, want 3", len(recs))
	}
	want := []map[string]any{
		{"msg": "request", "listener": "public", "method": "GET", "path": "/api/x", "status": 200.0, "route": "api", "upstream": "a", "request_id": "client-id-1", "client_ip": "127.0.0.1"},
		{"path": "/dead", "status": 502.0, "route": "dead", "upstream": "dead", "target": deadAddr, "reason": ReasonConnectFailure, "request_id": id},
		{"path": "/nowhere", "status": 404.0, "reason": ReasonNoRoute},
	}
	for i, w := range want {
		for k, v := range w {
			if recs[i][k] != v {
				t.Errorf("record %d: %s = %v, want %v (record %v)", i, k, recs[i][k], v, recs[i])
			}
		}
	}
	if _, ok := recs[0]["reason"]; ok {
		t.Errorf("record 0 has a reason, though the upstream answered")
	}
	if _, ok := recs[2]["route"]; ok {
		t.Errorf("record 2 names a route, though none matched")
	}
}
