package admin

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes checks that the document in the repository is
// the one served, that every route the handler registers is in it, and
// that every path and method it documents is served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	file, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(file, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}

	bare := New(Options{}) // without the dashboard mounted
	h := New(Options{})
	h.Handle("GET /dashboard/", http.NotFoundHandler())
	h.Handle("GET /api/v1/events", http.NotFoundHandler())
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(served, file) || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("GET /openapi.json (%s) differs from openapi.json", resp.Header.Get("Content-Type"))
	}

	documented := map[string]bool{}
	param := regexp.MustCompile(`\{[^}]+\}`)
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			if method == "parameters" {
				continue
			}
			key := strings.ToUpper(method) + " " + path
			documented[key] = true
			var op struct {
				Mounted bool `json:"x-levee-mounted"`
			}
			json.Unmarshal(raw, &op)
			// Served: the mux routes it to a registered pattern (a
			// request is not sent, so that a CPU profile is not taken).
			req := httptest.NewRequest(strings.ToUpper(method), param.ReplaceAllString(path, "x"), nil)
			if _, pattern := h.mux.Handler(req); pattern == "" {
				t.Errorf("%s is documented but not served", key)
			}
			if _, pattern := bare.mux.Handler(req); op.Mounted != (pattern == "") {
				t.Errorf("%s: x-levee-mounted is %v, but without the dashboard it is served at %q", key, op.Mounted, pattern)
			}
		}
	}
	var registered []string
	for _, e := range h.endpoints() {
		registered = append(registered, e.method+" "+e.pattern)
	}
	for _, p := range []string{"/livez", "/readyz", "/startupz"} {
		registered = append(registered, "GET "+p)
	}
	for _, r := range registered {
		if !documented[r] {
			t.Errorf("%s is served but not in openapi.json", r)
		}
	}
	if len(documented) != len(registered)+2 { // + the dashboard's two
		var keys []string
		for k := range documented {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		t.Errorf("openapi.json documents %d operations, the handler serves %d and the dashboard 2:\n%s", len(documented), len(registered), strings.Join(keys, "\n"))
	}
}
