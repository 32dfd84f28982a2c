package leveehttp_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/leveehttp"
)

// TestRejectionBodyHidesErrorText refuses requests with errors that wrap
// internal URLs, over a real server: the body says the kind of refusal and
// when to come back, and nothing of the error's text.
func TestRejectionBodyHidesErrorText(t *testing.T) {
	const secret = "10.1.2.3"
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantDetail string
	}{
		{"open breaker with wait", fmt.Errorf(`Get "http://%s/data": %w`, secret, levee.Reject(levee.ErrOpen, 2500*time.Millisecond)),
			503, "circuit breaker open; retry after 3 s"},
		{"rate limited", fmt.Errorf(`Get "http://%s/data": %w`, secret, levee.Reject(levee.ErrLimited, time.Second)),
			429, "rate limited; retry after 1 s"},
		{"shed without wait", fmt.Errorf("upstream http://%s: %w", secret, levee.ErrShed), 503, "load shed"},
		{"time limit", fmt.Errorf(`Get "http://%s/data": %w`, secret, levee.ErrTimeout), 504, "time limit exceeded"},
		{"unknown error", fmt.Errorf(`dial tcp %s:5432: connection refused`, secret), 500, "Internal Server Error"},
	}
	for _, tt := range tests {
		for _, problem := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/problem=%v", tt.name, problem), func(t *testing.T) {
				g := &testGate{}
				g.reject(tt.err)
				srv := httptest.NewServer(leveehttp.Gate(g, leveehttp.Options{ProblemJSON: problem})(nil))
				defer srv.Close()
				resp, body := get(t, srv.URL, nil)
				if strings.Contains(body, secret) || strings.Contains(body, "Get ") {
					t.Errorf("body %q carries the error's text", body)
				}
				if resp.StatusCode != tt.wantStatus {
					t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
				}
				if !problem {
					return
				}
				var p struct{ Detail string }
				if err := json.Unmarshal([]byte(body), &p); err != nil || p.Detail != tt.wantDetail {
					t.Errorf("detail = %q (%v), want %q", p.Detail, err, tt.wantDetail)
				}
			})
		}
	}
	if got := leveehttp.RefusalDetail(tests[0].err); got != tests[0].wantDetail {
		t.Errorf("RefusalDetail(%v) = %q, want %q", tests[0].err, got, tests[0].wantDetail)
	}
}
