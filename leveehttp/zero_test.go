package leveehttp_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/leveehttp"
)

// TestZeroValues uses the zero value of each exported type as its doc says
// it may be used: none may panic.
func TestZeroValues(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	serve := func(h http.Handler) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		return rec.Code
	}
	tests := []struct {
		name string
		use  func(t *testing.T)
	}{
		{"Transport", func(t *testing.T) {
			var tr leveehttp.Transport
			resp, err := (&http.Client{Transport: &tr}).Get(srv.URL)
			if err != nil {
				t.Fatalf("zero Transport: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("zero Transport: status %d", resp.StatusCode)
			}
		}},
		{"TransportConfig", func(t *testing.T) {
			resp, err := (&http.Client{Transport: leveehttp.NewTransport(leveehttp.TransportConfig{})}).Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}},
		{"Hosts", func(t *testing.T) {
			var h leveehttp.Hosts
			if p := h.Pick(httptest.NewRequest("GET", "/", nil)); p != nil {
				t.Errorf("Pick = %v, want nil", p)
			}
			if _, ok := h.Pipeline("x"); ok {
				t.Error("Pipeline found one")
			}
			h.Range(func(string, *levee.Pipeline) bool { t.Error("Range called fn"); return true })
		}},
		{"ResponseError", func(t *testing.T) {
			var e leveehttp.ResponseError
			if e.Error() == "" || e.RetryAfter() != 0 {
				t.Errorf("zero ResponseError = %q, %v", e.Error(), e.RetryAfter())
			}
			_ = (&leveehttp.ResponseError{Response: &http.Response{Status: "503"}}).Error()
		}},
		{"HandlerPanic", func(t *testing.T) {
			var p leveehttp.HandlerPanic
			if p.Error() == "" {
				t.Error("empty message")
			}
			_ = p.Unwrap()
		}},
		{"StatusError", func(t *testing.T) { _ = (&leveehttp.StatusError{}).Error() }},
		{"ClientIP", func(t *testing.T) { _ = leveehttp.ClientIP{}.Key(&http.Request{}) }},
		{"Options", func(t *testing.T) {
			if c := serve(leveehttp.Gate(&testGate{}, leveehttp.Options{})(ok)); c != 200 {
				t.Errorf("Gate with zero Options: %d", c)
			}
			if c := serve(leveehttp.Handler(levee.New(), leveehttp.Options{})(ok)); c != 200 {
				t.Errorf("Handler with zero Options: %d", c)
			}
		}},
		{"RecoverOptions", func(t *testing.T) {
			h := leveehttp.Recover(leveehttp.RecoverOptions{Logger: slog.New(slog.DiscardHandler)})(
				http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("x") }))
			if c := serve(h); c != 500 {
				t.Errorf("Recover: %d", c)
			}
			if c := serve(leveehttp.Recover(leveehttp.RecoverOptions{})(ok)); c != 200 {
				t.Errorf("Recover with zero options: %d", c)
			}
		}},
		{"PropagateOptions", func(t *testing.T) {
			if c := serve(leveehttp.Propagate(leveehttp.PropagateOptions{})(ok)); c != 200 {
				t.Errorf("Propagate: %d", c)
			}
		}},
		{"ServerConfig", func(t *testing.T) {
			if s := leveehttp.NewServer("", ok, leveehttp.ServerConfig{}); s == nil {
				t.Error("NewServer = nil")
			}
		}},
		{"HTTPTransportConfig", func(t *testing.T) {
			if tr := leveehttp.NewHTTPTransport(leveehttp.HTTPTransportConfig{}); tr == nil {
				t.Error("NewHTTPTransport = nil")
			}
		}},
		{"WriteBudget without deadline", func(t *testing.T) {
			r, _ := http.NewRequestWithContext(context.Background(), "GET", srv.URL, nil)
			leveehttp.WriteBudget(r, 0)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.use)
	}
}
