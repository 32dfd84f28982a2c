package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/server"
	"github.com/levee-go/levee/lifecycle"
)

// TestDashboardFollowsReloads: the admin listener serves the dashboard
// and its event stream, and after a configuration is applied through the
// admin API the stream shows the new configuration's routes and version.
func TestDashboardFollowsReloads(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") }))
	defer up.Close()
	doc := func(route string) string {
		return fmt.Sprintf(`
listeners: [{name: plain, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [{url: %q}], breaker: {consecutive_failures: 5}}]
routes: [{name: %s, upstream: app}]
admin: {address: "127.0.0.1:0"}
`, up.URL, route)
	}
	first := doc("first_route")
	cfg, err := config.Parse([]byte(first), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	addrs := make(chan [2]string, 8)
	log := slog.New(addrHandler{slog.NewTextHandler(io.Discard, nil), addrs})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, cfg, server.Options{Logger: log, Raw: []byte(first),
			Lifecycle: lifecycle.Config{GracePeriod: 5 * time.Second, DrainDelay: -1, Signals: []os.Signal{}}})
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
	client := &http.Client{Timeout: 20 * time.Second}

	resp, err := client.Get(base + "/dashboard/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "<html") {
		t.Fatalf("GET /dashboard/ = %d %.80q, want the page", resp.StatusCode, page)
	}

	ctxEvents, stopEvents := context.WithTimeout(ctx, 20*time.Second)
	defer stopEvents()
	req, _ := http.NewRequestWithContext(ctxEvents, "GET", base+"/api/v1/events", nil)
	events, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer events.Body.Close()
	if ct := events.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("GET /api/v1/events: Content-Type %q, want text/event-stream", ct)
	}
	lines := bufio.NewScanner(events.Body)
	lines.Buffer(make([]byte, 0, 64<<10), 1<<20)
	// waitFor reads data lines until one holds want.
	waitFor := func(want string) {
		t.Helper()
		for lines.Scan() {
			if line := lines.Text(); strings.HasPrefix(line, "data:") && strings.Contains(line, want) {
				return
			}
		}
		t.Fatalf("the event stream ended (%v) before an event held %q", lines.Err(), want)
	}
	waitFor(`"first_route"`)

	get, _ := http.NewRequest("GET", base+"/api/v1/config", nil)
	resp, err = client.Do(get)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	put, _ := http.NewRequest("PUT", base+"/api/v1/config", strings.NewReader(doc("second_route")))
	put.Header.Set("If-Match", resp.Header.Get("ETag"))
	resp, err = client.Do(put)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /api/v1/config = %d %s, want 200", resp.StatusCode, body)
	}
	waitFor(`"second_route"`)
}
