package lifecycle_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/levee-go/levee/lifecycle"
)

// TestMiddlewareEndsHTTP2AfterDrain checks that the middleware ends an
// HTTP/2 connection once draining has begun, as it ends HTTP/1 keep-alive:
// the server sends a graceful GOAWAY after the response and closes the
// connection once it is idle, so the client's next request opens a new
// connection (and so reaches another pod or process).
func TestMiddlewareEndsHTTP2AfterDrain(t *testing.T) {
	hs := newHarness(t, lifecycle.Config{DrainDelay: time.Second})
	srv := httptest.NewUnstartedServer(hs.l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			t.Errorf("request over %s, want HTTP/2", r.Proto)
		}
	})))
	closed := make(chan struct{}, 16)
	opened := make(chan struct{}, 16)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			opened <- struct{}{}
		case http.StateClosed:
			closed <- struct{}{}
		}
	}
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	client := srv.Client()
	get := func() {
		t.Helper()
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	wait := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(20 * time.Second):
			t.Fatalf("no connection %s within 20s", what)
		}
	}
	hs.start()
	get()
	get()
	wait(opened, "opened")
	select {
	case <-opened:
		t.Fatal("a second connection while running, want the first one reused")
	default:
	}
	hs.l.Stop()
	hs.expect(lifecycle.Draining)
	get()
	wait(closed, "closed after a response while draining")
	get()
	wait(opened, "opened for the next request")
	hs.fc.BlockUntil(1)
	hs.fc.Advance(time.Second)
	hs.result()
}
