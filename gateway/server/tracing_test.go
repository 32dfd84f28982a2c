package server_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/server"
	"github.com/levee-go/levee/lifecycle"
)

// TestTracing runs the gateway with tracing to a loopback OTLP/HTTP
// collector: a request carrying a sampled traceparent reaches the upstream
// with the same trace and the gateway's span as parent, a new trace is
// passed on unsampled (sample_ratio 0%), and at shutdown the collector
// receives the sampled span.
func TestTracing(t *testing.T) {
	var mu sync.Mutex
	var exported [][]byte
	col := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/v1/traces" {
			mu.Lock()
			exported = append(exported, b)
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer col.Close()
	seen := make(chan string, 4)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Get("Traceparent")
	}))
	defer up.Close()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [{url: %q}]}]
routes: [{name: all, upstream: app}]
admin: {address: "127.0.0.1:0"}
tracing: {endpoint: %q, protocol: http, insecure: true, sample_ratio: 0%%}
`, up.URL, strings.TrimPrefix(col.URL, "http://"))), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	addrs := make(chan [2]string, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, cfg, server.Options{
			Logger:    slog.New(addrHandler{slog.NewTextHandler(io.Discard, nil), addrs}),
			Lifecycle: lifecycle.Config{GracePeriod: 5 * time.Second, DrainDelay: -1, Signals: []os.Signal{}},
		})
	}()
	var public string
	for public == "" {
		select {
		case a := <-addrs:
			if a[0] == "public" {
				public = a[1]
			}
		case err := <-done:
			t.Fatalf("Run returned before listening: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("not listening within 10s")
		}
	}
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	send := func(traceparent string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+public+"/", nil)
		if traceparent != "" {
			req.Header.Set("Traceparent", traceparent)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return <-seen
	}
	got := strings.Split(send("00-"+traceID+"-"+parentID+"-01"), "-")
	if len(got) != 4 || got[1] != traceID || got[2] == parentID || got[3] != "01" {
		t.Errorf("upstream got traceparent %q, want trace %s with the gateway's span as parent, sampled", strings.Join(got, "-"), traceID)
	}
	if fresh := send(""); !strings.HasPrefix(fresh, "00-") || !strings.HasSuffix(fresh, "-00") {
		t.Errorf("upstream got traceparent %q for a request without one, want a new unsampled trace", fresh)
	}
	cancel() // shutdown sends the buffered spans
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	id, _ := hex.DecodeString(traceID)
	span, _ := hex.DecodeString(got[2])
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, b := range exported {
		found = found || bytes.Contains(b, id) && bytes.Contains(b, span)
	}
	if !found {
		t.Errorf("the collector got %d exports, none with the sampled span %s of trace %s", len(exported), got[2], traceID)
	}
}
