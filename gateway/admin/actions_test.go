package admin_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/levee-go/levee/gateway/admin"
)

// TestActionsThroughTheAPI drives each action over HTTP and checks its
// effect on requests through the gateway and in GET /api/v1/state.
func TestActionsThroughTheAPI(t *testing.T) {
	addr := upstream(t)
	ctl := newController(t, baseConfig(addr))
	_, srv := serve(t, admin.Options{Controller: ctl})
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ctl.Proxy().ServeHTTP(w, r) }))
	t.Cleanup(gw.Close)
	through := func() int {
		resp, _ := send(t, "GET", gw.URL+"/x", "", "")
		return resp.StatusCode
	}
	state := func() admin.StateResponse {
		resp, body := send(t, "GET", srv.URL+"/api/v1/state", "", "")
		wantStatus(t, "GET state", resp, body, http.StatusOK)
		var s admin.StateResponse
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatalf("state %s: %v", body, err)
		}
		return s
	}
	if s := state(); s.Version != 1 || s.Hash != ctl.Current().Hash || len(s.Routes) != 2 || s.Upstreams[0].Targets[0].Name != addr {
		t.Fatalf("state = %+v, want version 1, 2 routes, target %s", s, addr)
	}

	resp, body := send(t, "PUT", srv.URL+"/api/v1/upstreams/api/breaker", "", `{"mode":"open"}`)
	wantStatus(t, "force open", resp, body, http.StatusNoContent)
	if got := through(); got != http.StatusServiceUnavailable {
		t.Errorf("through a forced-open breaker: %d, want 503", got)
	}
	if b := state().Upstreams[0].Breaker; b.State != "forced_open" || b.Mode != "open" {
		t.Errorf("breaker %+v, want forced_open", b)
	}
	resp, body = send(t, "PUT", srv.URL+"/api/v1/upstreams/api/breaker", "", `{"mode":"auto"}`)
	wantStatus(t, "auto", resp, body, http.StatusNoContent)
	if got := through(); got != http.StatusOK {
		t.Errorf("after auto: %d, want 200", got)
	}

	resp, body = send(t, "PUT", srv.URL+"/api/v1/routes/all/fault", "", `{"abort":{"status":503,"percent":"100%"}}`)
	wantStatus(t, "fault", resp, body, http.StatusNoContent)
	if got := through(); got != http.StatusServiceUnavailable {
		t.Errorf("with an abort at 100%%: %d, want 503", got)
	}
	resp, body = send(t, "DELETE", srv.URL+"/api/v1/routes/all/fault", "", "")
	wantStatus(t, "stop fault", resp, body, http.StatusNoContent)
	if got := through(); got != http.StatusOK {
		t.Errorf("after stopping the fault: %d, want 200", got)
	}

	resp, body = send(t, "PUT", srv.URL+"/api/v1/routes/limited/rate_limit", "", `{"rate":"500/s","burst":50}`)
	wantStatus(t, "rate limit", resp, body, http.StatusNoContent)
	resp, body = send(t, "PUT", srv.URL+"/api/v1/routes/limited/concurrency", "", `{"limit":3}`)
	wantStatus(t, "concurrency", resp, body, http.StatusNoContent)
	resp, body = send(t, "POST", srv.URL+"/api/v1/upstreams/api/targets/"+addr+"/drain", "", "")
	wantStatus(t, "drain", resp, body, http.StatusNoContent)
	s := state()
	if rl := s.Routes[0].RateLimit; rl.Rate != "500/1s" || rl.Burst != 50 {
		t.Errorf("rate limit %+v, want 500/1s burst 50", rl)
	}
	if c := s.Routes[0].Concurrency; c.Limit != 3 {
		t.Errorf("concurrency %+v, want limit 3", c)
	}
	if !s.Upstreams[0].Targets[0].Drained {
		t.Errorf("target not drained")
	}
	resp, body = send(t, "DELETE", srv.URL+"/api/v1/upstreams/api/targets/"+addr+"/drain", "", "")
	wantStatus(t, "undrain", resp, body, http.StatusNoContent)
	if state().Upstreams[0].Targets[0].Drained {
		t.Errorf("target still drained after DELETE")
	}
}

func TestActionErrors(t *testing.T) {
	ctl := newController(t, baseConfig(upstream(t)))
	_, srv := serve(t, admin.Options{Controller: ctl})
	tests := []struct {
		method, path, body string
		status             int
	}{
		{"PUT", "/api/v1/upstreams/nope/breaker", `{"mode":"open"}`, http.StatusNotFound},
		{"PUT", "/api/v1/upstreams/api/breaker", `{"mode":"sideways"}`, http.StatusUnprocessableEntity},
		{"PUT", "/api/v1/upstreams/api/breaker", `{"mode":"open","extra":1}`, http.StatusBadRequest},
		{"PUT", "/api/v1/upstreams/api/breaker", `{"mode":"open"}{}`, http.StatusBadRequest},
		{"PUT", "/api/v1/upstreams/api/breaker", `not json`, http.StatusBadRequest},
		{"PUT", "/api/v1/upstreams/api/breaker", `{"mode":"` + strings.Repeat("x", 70<<10) + `"}`, http.StatusRequestEntityTooLarge},
		{"PUT", "/api/v1/upstreams/api/targets/10.9.9.9:1/breaker", `{"mode":"open"}`, http.StatusNotFound},
		{"POST", "/api/v1/upstreams/api/targets/10.9.9.9:1/drain", ``, http.StatusNotFound},
		{"PUT", "/api/v1/routes/all/rate_limit", `{"rate":"5/s"}`, http.StatusConflict},
		{"PUT", "/api/v1/routes/limited/rate_limit", `{"rate":"5 per s"}`, http.StatusUnprocessableEntity},
		{"PUT", "/api/v1/routes/limited/rate_limit", `{"rate":"5/s","burst":-1}`, http.StatusUnprocessableEntity},
		{"PUT", "/api/v1/routes/limited/concurrency", `{"limit":0}`, http.StatusUnprocessableEntity},
		{"PUT", "/api/v1/routes/nope/concurrency", `{"limit":2}`, http.StatusNotFound},
		{"PUT", "/api/v1/routes/all/fault", `{}`, http.StatusUnprocessableEntity},
		{"PUT", "/api/v1/routes/all/fault", `{"abort":{"status":503,"percent":"500%"}}`, http.StatusUnprocessableEntity},
		{"PUT", "/api/v1/routes/all/fault", `{"delay":{"duration":"soon","percent":"5%"}}`, http.StatusUnprocessableEntity},
		{"POST", "/api/v1/config/rollback", `{"version":0}`, http.StatusUnprocessableEntity},
		{"GET", "/api/v1/audit?limit=x", ``, http.StatusBadRequest},
	}
	for _, tt := range tests {
		resp, body := send(t, tt.method, srv.URL+tt.path, "", tt.body)
		what := tt.method + " " + tt.path + " " + tt.body
		if len(what) > 120 {
			what = what[:120]
		}
		wantStatus(t, what, resp, body, tt.status)
	}
}

// TestAudit checks that every change, allowed or refused, is recorded
// with who, where from, what, the hash before and after, and the result,
// both in GET /api/v1/audit and in the audit log file; reads are not.
func TestAudit(t *testing.T) {
	addr := upstream(t)
	ctl := newController(t, baseConfig(addr))
	file := filepath.Join(t.TempDir(), "audit.log")
	log, closeLog, err := admin.OpenAuditLog(file, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeLog()
	_, srv := serve(t, admin.Options{Controller: ctl, Auth: admin.Auth{Token: "tok"}, Audit: log, AuditKeep: 3})
	before := ctl.Current().Hash
	send(t, "GET", srv.URL+"/api/v1/state", "tok", "")
	send(t, "PUT", srv.URL+"/api/v1/routes/nope/concurrency", "tok", `{"limit":2}`)
	next := strings.Replace(baseConfig(addr), "max: 8", "max: 9", 1)
	resp, body := send(t, "PUT", srv.URL+"/api/v1/config", "tok", next, "If-Match", `"`+before+`"`)
	wantStatus(t, "PUT config", resp, body, http.StatusOK)
	after := ctl.Current().Hash

	resp, body = send(t, "GET", srv.URL+"/api/v1/audit", "tok", "")
	wantStatus(t, "GET audit", resp, body, http.StatusOK)
	var recs []admin.AuditRecord
	if err := json.Unmarshal(body, &recs); err != nil || len(recs) != 2 {
		t.Fatalf("audit = %s, want 2 records (reads are not audited)", body)
	}
	r0, r1 := recs[0], recs[1]
	if r0.Action != "concurrency.set" || r0.Status != http.StatusNotFound || !strings.Contains(r0.Result, "no route") ||
		r0.Body != `{"limit":2}` || r0.Before != before || r0.After != before {
		t.Errorf("first record = %+v, want the refused concurrency.set with its body and an unchanged hash", r0)
	}
	if r1.Action != "config.put" || r1.Status != http.StatusOK || r1.Result != "ok" || r1.Before != before || r1.After != after ||
		!strings.HasPrefix(r1.Body, "yaml, ") || r1.Method != "PUT" || r1.Path != "/api/v1/config" {
		t.Errorf("second record = %+v, want config.put from %s to %s", r1, before, after)
	}
	for _, r := range recs {
		if !strings.HasPrefix(r.Who, "token:") || len(r.Who) != len("token:")+8 ||
			!strings.HasPrefix(r.Remote, "127.0.0.1:") || r.Time.IsZero() {
			t.Errorf("record %+v: want who a token fingerprint, a loopback remote and a time", r)
		}
	}
	// The ring keeps AuditKeep records; limit takes the newest.
	for range 3 {
		send(t, "DELETE", srv.URL+"/api/v1/routes/all/fault", "tok", "")
	}
	resp, body = send(t, "GET", srv.URL+"/api/v1/audit?limit=10", "tok", "")
	wantStatus(t, "GET audit?limit=10", resp, body, http.StatusOK)
	recs = nil
	json.Unmarshal(body, &recs)
	if len(recs) != 3 || recs[0].Action != "fault.stop" {
		t.Errorf("after 5 changes with AuditKeep 3: %d records, first %q; want the 3 newest", len(recs), recs[0].Action)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	if len(lines) != 5 {
		t.Fatalf("audit log file has %d lines, want 5:\n%s", len(lines), data)
	}
	var line map[string]any
	if err := json.Unmarshal(lines[1], &line); err != nil || line["action"] != "config.put" || line["before_hash"] != before || line["after_hash"] != after {
		t.Errorf("audit log line %s: want config.put with both hashes (%v)", lines[1], err)
	}
	if bytes.Contains(data, []byte(`"tok"`)) {
		t.Errorf("the audit log holds the token itself")
	}
}

func TestOpenAuditLogDefault(t *testing.T) {
	fallback := slog.New(slog.DiscardHandler)
	log, closeLog, err := admin.OpenAuditLog("", "", fallback)
	if err != nil || log != fallback {
		t.Errorf("OpenAuditLog(\"\") = %v, %v; want the gateway's logger", log, err)
	}
	closeLog()
	if _, _, err := admin.OpenAuditLog(filepath.Join(t.TempDir(), "no", "such", "dir"), "", nil); err == nil || !strings.Contains(err.Error(), "admin.audit_log") {
		t.Errorf("unwritable audit log: %v, want an error naming admin.audit_log", err)
	}
}
