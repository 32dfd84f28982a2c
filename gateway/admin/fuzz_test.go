package admin_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/levee-go/levee/gateway/admin"
	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/proxy"
)

// FuzzJSONInputs sends arbitrary bodies to every endpoint that reads JSON
// (and to the configuration's PUT): none may panic or answer 5xx, and an
// answer other than success is a problem+json body.
func FuzzJSONInputs(f *testing.F) {
	seeds := []string{
		`{"mode":"open"}`, `{"mode":"auto"}`, `{"mode":""}`, `{"mode":1}`,
		`{"rate":"100/s","burst":20}`, `{"rate":"1/250ms"}`, `{"rate":"-1/s"}`, `{"burst":-5,"rate":"1/s"}`, `{"rate":"99999999999999/s"}`,
		`{"limit":3}`, `{"limit":-1}`, `{"limit":1e30}`,
		`{"abort":{"status":503,"percent":"50%"}}`, `{"delay":{"duration":"10ms","percent":"100%"},"header":"X-Chaos"}`,
		`{"abort":{"status":99999999999,"percent":"NaN%"}}`, `{"delay":{"duration":"-1s","percent":"1%"}}`,
		`{"version":1}`, `{"version":1,"force":true}`, `{"version":-9223372036854775808}`,
		`null`, `[]`, `""`, `{`, "\x00", `{"a":{"a":{"a":{"a":[[[[[[]]]]]]}}}}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	cfg, err := config.Parse([]byte(baseConfig(up.Listener.Addr().String())), config.Options{})
	if err != nil {
		f.Fatal(err)
	}
	p, err := proxy.New(cfg, proxy.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	defer p.Close()
	h := admin.New(admin.Options{Proxy: func() *proxy.Proxy { return p }, Audit: slog.New(slog.DiscardHandler)})
	target := up.Listener.Addr().String()
	endpoints := []struct{ method, path string }{
		{"PUT", "/api/v1/upstreams/api/breaker"},
		{"PUT", "/api/v1/upstreams/api/targets/" + target + "/breaker"},
		{"PUT", "/api/v1/routes/limited/rate_limit"},
		{"PUT", "/api/v1/routes/limited/concurrency"},
		{"PUT", "/api/v1/routes/all/fault"},
		{"POST", "/api/v1/config/rollback"},
		{"PUT", "/api/v1/config"},
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		e := endpoints[int(which)%len(endpoints)]
		req := httptest.NewRequest(e.method, e.path, strings.NewReader(body))
		req.Header.Set("If-Match", "*")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusNotImplemented {
			t.Fatalf("%s %s %q: status %d: %s", e.method, e.path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s %s %q: status %d without a problem body", e.method, e.path, body, rec.Code)
		}
	})
}
