package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee/gateway/admin"
	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/server"
	"github.com/levee-go/levee/lifecycle"
)

// TestAdminAPI runs the gateway with an admin token and an audit log
// file: the probes answer without the token, the state, metrics and
// actions need it, and a change lands in the audit log.
func TestAdminAPI(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") }))
	defer up.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "token"), []byte("let-me-in\n"), 0o600)
	file := filepath.Join(dir, "levee.yaml")
	yaml := fmt.Sprintf(`
listeners: [{name: plain, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [{url: %q}], breaker: {consecutive_failures: 5}}]
routes: [{name: all, upstream: app}]
admin: {address: "127.0.0.1:0", token_file: token, audit_log: audit.log}
`, up.URL)
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	addrs := make(chan [2]string, 8)
	log := slog.New(addrHandler{slog.NewTextHandler(io.Discard, nil), addrs})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, cfg, server.Options{Dir: dir, Logger: log, Path: file, Raw: []byte(yaml),
			AdminHandlers: map[string]http.Handler{"GET /dashboard/": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "dash") })},
			Lifecycle:     lifecycle.Config{GracePeriod: 5 * time.Second, DrainDelay: -1, Signals: []os.Signal{}}})
	}()
	bound := map[string]string{}
	for len(bound) < 2 {
		select {
		case a := <-addrs:
			bound[a[0]] = a[1]
		case err := <-done:
			t.Fatalf("Run returned before listening: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("listeners not up within 10s: %v", bound)
		}
	}
	base := "http://" + bound["admin"]
	do := func(method, path, token, body string) int {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	checks := []struct {
		method, path, token, body string
		want                      int
	}{
		{"GET", "/readyz", "", "", http.StatusOK},
		{"GET", "/api/v1/state", "", "", http.StatusUnauthorized},
		{"GET", "/metrics", "", "", http.StatusUnauthorized},
		{"GET", "/metrics", "wrong", "", http.StatusForbidden},
		{"GET", "/metrics", "let-me-in", "", http.StatusOK},
		{"GET", "/api/v1/state", "let-me-in", "", http.StatusOK},
		{"PUT", "/api/v1/upstreams/app/breaker", "let-me-in", `{"mode":"open"}`, http.StatusNoContent},
		{"GET", "/api/v1/config", "let-me-in", "", http.StatusOK},
		{"PUT", "/api/v1/config", "let-me-in", yaml, http.StatusPreconditionRequired},
		{"GET", "/dashboard/", "", "", http.StatusUnauthorized},
		{"GET", "/dashboard/", "let-me-in", "", http.StatusOK},
	}
	for _, c := range checks {
		if got := do(c.method, c.path, c.token, c.body); got != c.want {
			t.Errorf("%s %s (token %q) = %d, want %d", c.method, c.path, c.token, got, c.want)
		}
	}
	resp, err := http.Get("http://" + bound["plain"] + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("through the breaker forced open by the admin API: %d, want 503", resp.StatusCode)
	}

	// Two clients PUT different documents with the same ETag at once,
	// through the reload controller: exactly one wins, the other gets 412.
	req, _ := http.NewRequest("GET", base+"/api/v1/config", nil)
	req.Header.Set("Authorization", "Bearer let-me-in")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	for round := range 5 {
		codes, tags := make([]int, 2), make([]string, 2)
		match := etag // both clients read the same version
		var wg sync.WaitGroup
		for i := range codes {
			wg.Go(func() {
				doc := strings.Replace(yaml, "consecutive_failures: 5", fmt.Sprintf("consecutive_failures: %d", 10+2*round+i), 1)
				req, _ := http.NewRequest("PUT", base+"/api/v1/config", strings.NewReader(doc))
				req.Header.Set("Authorization", "Bearer let-me-in")
				req.Header.Set("If-Match", match)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				codes[i], tags[i] = resp.StatusCode, resp.Header.Get("ETag")
			})
		}
		wg.Wait()
		if !(codes[0] == 200 && codes[1] == 412 || codes[0] == 412 && codes[1] == 200) {
			t.Fatalf("round %d: racing PUTs answered %v, want one 200 and one 412", round, codes)
		}
		etag = tags[0] + tags[1] // the loser's answer has none
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "audit.log"))
	if err != nil || !strings.Contains(string(data), `"action":"breaker.set"`) || strings.Contains(string(data), "let-me-in") {
		t.Errorf("audit.log = %s (%v); want the breaker.set record, without the token", data, err)
	}
}

// TestAdminRefusesExposedAddress: an admin address other hosts can reach
// without a token or client certificates stops Run before it listens.
func TestAdminRefusesExposedAddress(t *testing.T) {
	cfg, err := config.Parse([]byte(`
listeners: [{name: plain, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [{url: "127.0.0.1:1"}]}]
routes: [{name: all, upstream: app}]
admin: {address: "127.0.0.1:0"}
`), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Admin.Address = "0.0.0.0:0" // as config.Load would never let through
	err = server.Run(context.Background(), cfg, server.Options{Logger: slog.New(slog.DiscardHandler),
		Lifecycle: lifecycle.Config{Signals: []os.Signal{}}})
	if !errors.Is(err, admin.ErrExposed) || !strings.Contains(err.Error(), "0.0.0.0:0") {
		t.Fatalf("Run with an exposed admin address = %v, want admin.ErrExposed naming it", err)
	}
}
