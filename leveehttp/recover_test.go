package leveehttp_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/leveehttp"
)

// TestRecoverAbortsTruncatedResponse checks that a panic after part of the
// body went out reaches the client as a broken response, over HTTP/1.1 and
// HTTP/2, instead of a clean 200 with half a body.
func TestRecoverAbortsTruncatedResponse(t *testing.T) {
	for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
		t.Run(proto, func(t *testing.T) {
			var panics atomic.Int32
			h := leveehttp.Recover(leveehttp.RecoverOptions{
				Logger:  slog.New(slog.DiscardHandler),
				OnEvent: func(levee.Event) { panics.Add(1) },
			})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "first half ")
				http.NewResponseController(w).Flush()
				panic("second half failed")
			}))
			srv := httptest.NewUnstartedServer(h)
			srv.Config.ErrorLog = nil
			if proto == "HTTP/2" {
				srv.EnableHTTP2 = true
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()

			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatalf("GET: %v, want the header and the first half", err)
			}
			defer resp.Body.Close()
			if resp.ProtoMajor != map[string]int{"HTTP/1.1": 1, "HTTP/2": 2}[proto] {
				t.Fatalf("response over %s, want %s", resp.Proto, proto)
			}
			body, err := io.ReadAll(resp.Body)
			if err == nil {
				t.Errorf("reading the body = %q, nil error; want an error for the truncated response", body)
			}
			if n := panics.Load(); n != 1 {
				t.Errorf("%d panic events, want 1", n)
			}
		})
	}
}

// TestRecoverBeforeHeader keeps the 500 for a panic before anything was
// written, over HTTP/2 too.
func TestRecoverBeforeHeader(t *testing.T) {
	h := leveehttp.Recover(leveehttp.RecoverOptions{Logger: slog.New(slog.DiscardHandler)})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("early") }))
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err != nil || resp.StatusCode != 500 {
		t.Errorf("early panic = %d, %v; want a complete 500", resp.StatusCode, err)
	}
}
