package admin_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/levee-go/levee/gateway/admin"
)

func TestConfigEndpoints(t *testing.T) {
	addr := upstream(t)
	ctl := newController(t, baseConfig(addr))
	_, srv := serve(t, admin.Options{Controller: ctl})

	resp, body := send(t, "GET", srv.URL+"/api/v1/config", "", "")
	wantStatus(t, "GET config", resp, body, http.StatusOK)
	etag := resp.Header.Get("ETag")
	if etag != `"`+ctl.Current().Hash+`"` || string(body) != baseConfig(addr) {
		t.Fatalf("GET config: ETag %s, body %q; want the running hash and YAML", etag, body)
	}

	next := strings.Replace(baseConfig(addr), "rate: 10/s", "rate: 20/s", 1)
	resp, body = send(t, "PUT", srv.URL+"/api/v1/config", "", next)
	wantStatus(t, "PUT without If-Match", resp, body, http.StatusPreconditionRequired)
	resp, body = send(t, "PUT", srv.URL+"/api/v1/config", "", next, "If-Match", `"0123"`)
	wantStatus(t, "PUT stale", resp, body, http.StatusPreconditionFailed)

	bad := strings.Replace(baseConfig(addr), "rate: 10/s", "rate: lots", 1)
	resp, body = send(t, "PUT", srv.URL+"/api/v1/config", "", bad, "If-Match", etag)
	wantStatus(t, "PUT invalid", resp, body, http.StatusUnprocessableEntity)
	var prob struct {
		Problems []struct {
			Path         string
			Line, Column int
			Message      string
		}
	}
	if err := json.Unmarshal(body, &prob); err != nil || len(prob.Problems) != 1 {
		t.Fatalf("422 body %s: want one problem (%v)", body, err)
	}
	if p := prob.Problems[0]; p.Path != "routes[0].policies.rate_limit.rate" || p.Line != 11 || p.Column == 0 || p.Message == "" {
		t.Errorf("problem = %+v, want routes[0].policies.rate_limit.rate at line 11", p)
	}
	if ctl.Current().Version != 1 {
		t.Fatalf("an invalid config replaced the running one")
	}

	resp, body = send(t, "PUT", srv.URL+"/api/v1/config", "", next, "If-Match", etag)
	wantStatus(t, "PUT", resp, body, http.StatusOK)
	var rep admin.Report
	if err := json.Unmarshal(body, &rep); err != nil || rep.Version != 2 || resp.Header.Get("ETag") != `"`+rep.Hash+`"` {
		t.Fatalf("PUT answered %s (ETag %s), want version 2 and its hash as ETag", body, resp.Header.Get("ETag"))
	}
	if got := ctl.Proxy().State().Routes[0].RateLimit.Rate; got != "20/1s" {
		t.Errorf("after PUT the runtime's rate is %s, want 20/1s", got)
	}

	resp, body = send(t, "GET", srv.URL+"/api/v1/config/history", "", "")
	wantStatus(t, "history", resp, body, http.StatusOK)
	var hist []admin.Version
	if err := json.Unmarshal(body, &hist); err != nil || len(hist) != 2 || hist[1].Source != "admin" {
		t.Fatalf("history = %s, want 2 versions, the last from admin", body)
	}

	ctl.markBad([]byte(baseConfig(addr)), "self-check failed")
	resp, body = send(t, "POST", srv.URL+"/api/v1/config/rollback", "", `{"version":1}`)
	wantStatus(t, "rollback to a bad version", resp, body, http.StatusConflict)
	resp, body = send(t, "POST", srv.URL+"/api/v1/config/rollback", "", `{"version":9}`)
	wantStatus(t, "rollback to an unknown version", resp, body, http.StatusNotFound)
	resp, body = send(t, "POST", srv.URL+"/api/v1/config/rollback", "", `{"version":1,"force":true}`)
	wantStatus(t, "forced rollback", resp, body, http.StatusOK)
	if v := ctl.Current(); v.Version != 3 || v.Hash != hist[0].Hash {
		t.Errorf("after rollback: version %d hash %s, want 3 with version 1's hash", v.Version, v.Hash)
	}

	resp, body = send(t, "POST", srv.URL+"/api/v1/reload", "", "")
	wantStatus(t, "reload", resp, body, http.StatusOK)
	if err := json.Unmarshal(body, &rep); err != nil || !rep.Unchanged {
		t.Errorf("reload of the running source = %s, want unchanged", body)
	}
	resp, body = send(t, "GET", srv.URL+"/api/v1/reload", "", "")
	wantStatus(t, "reload status", resp, body, http.StatusOK)
	var st admin.Status
	if err := json.Unmarshal(body, &st); err != nil || st.Version != 3 || st.State != "idle" {
		t.Errorf("reload status = %s, want idle at version 3", body)
	}
}

// TestRacingPuts sends two PUTs with the same ETag at once, many times:
// exactly one wins each round, the other gets 412.
func TestRacingPuts(t *testing.T) {
	addr := upstream(t)
	ctl := newController(t, baseConfig(addr))
	_, srv := serve(t, admin.Options{Controller: ctl})
	const rounds = 20
	for round := range rounds {
		etag := `"` + ctl.Current().Hash + `"`
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i := range codes {
			wg.Go(func() {
				body := strings.Replace(baseConfig(addr), "rate: 10/s", fmt.Sprintf("rate: %d/s", 100+2*round+i), 1)
				resp, b := send(t, "PUT", srv.URL+"/api/v1/config", "", body, "If-Match", etag)
				codes[i] = resp.StatusCode
				if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPreconditionFailed {
					t.Errorf("round %d: %s", round, b)
				}
			})
		}
		wg.Wait()
		ok, stale := 0, 0
		for _, c := range codes {
			switch c {
			case http.StatusOK:
				ok++
			case http.StatusPreconditionFailed:
				stale++
			}
		}
		if ok != 1 || stale != 1 {
			t.Fatalf("round %d: statuses %v, want one 200 and one 412", round, codes)
		}
	}
	if ctl.applied != rounds+1 {
		t.Errorf("%d configurations applied, want %d (the first and one per round)", ctl.applied, rounds+1)
	}
}

func TestWithoutController(t *testing.T) {
	_, srv := serve(t, admin.Options{})
	for _, path := range []string{"/api/v1/config", "/api/v1/state", "/api/v1/reload"} {
		resp, body := send(t, "GET", srv.URL+path, "", "")
		wantStatus(t, "GET "+path, resp, body, http.StatusNotImplemented)
	}
}
