package leveehttp_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/leveehttp"
)

// TestForwardBudgetAt checks a proxy's forwarded request: the caller's
// timeout fields are replaced by the time left at the given instant, in
// whole milliseconds rounded up; the criticality goes along unless the
// request already names one.
func TestForwardBudgetAt(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		left      time.Duration // deadline - now; 0 means no deadline
		crit      levee.Criticality
		header    map[string]string
		grpc, std string
		wantCrit  string
	}{
		{"replaces the caller's", 1500 * time.Millisecond, levee.Critical, map[string]string{"Grpc-Timeout": "9S", "X-Request-Timeout": "9s"}, "1500m", "1500ms", ""},
		{"rounds up", 1500*time.Millisecond + time.Microsecond, levee.Critical, nil, "1501m", "1501ms", ""},
		{"spent is one millisecond", -time.Second, levee.Critical, nil, "1m", "1ms", ""},
		{"no deadline removes them", 0, levee.Critical, map[string]string{"Grpc-Timeout": "9S"}, "", "", ""},
		{"criticality written", time.Second, levee.Sheddable, nil, "1000m", "1000ms", "SHEDDABLE"},
		{"criticality kept", time.Second, levee.Sheddable, map[string]string{"X-Criticality": "CRITICAL_PLUS"}, "1000m", "1000ms", "CRITICAL_PLUS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := levee.WithCriticality(context.Background(), tc.crit)
			if tc.left != 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, now.Add(tc.left))
				defer cancel()
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1/", nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			leveehttp.ForwardBudgetAt(req, now)
			if got := req.Header.Values("Grpc-Timeout"); tc.grpc == "" && len(got) != 0 || tc.grpc != "" && (len(got) != 1 || got[0] != tc.grpc) {
				t.Errorf("ForwardBudgetAt: Grpc-Timeout = %q, want %q", got, tc.grpc)
			}
			if got := req.Header.Values("X-Request-Timeout"); tc.std == "" && len(got) != 0 || tc.std != "" && (len(got) != 1 || got[0] != tc.std) {
				t.Errorf("ForwardBudgetAt: X-Request-Timeout = %q, want %q", got, tc.std)
			}
			if got := req.Header.Get("X-Criticality"); got != tc.wantCrit {
				t.Errorf("ForwardBudgetAt: X-Criticality = %q, want %q", got, tc.wantCrit)
			}
			if tc.std != "" { // what is written reads back as what was meant
				d, err := leveehttp.ParseTimeout(tc.std)
				g, err2 := leveehttp.ParseTimeout(tc.grpc)
				if err != nil || err2 != nil || d != g {
					t.Errorf("ParseTimeout(%q), ParseTimeout(%q) = %v, %v (%v, %v); want equal", tc.std, tc.grpc, d, g, err, err2)
				}
			}
		})
	}
}

// TestSetBudgetCaps checks the eight-digit cap of gRPC's format.
func TestSetBudgetCaps(t *testing.T) {
	h := http.Header{}
	leveehttp.SetBudget(h, 1000*time.Hour)
	if got := h.Get("Grpc-Timeout"); got != "99999999m" {
		t.Errorf("SetBudget(1000h): Grpc-Timeout = %q, want 99999999m", got)
	}
	if got := h.Get("X-Request-Timeout"); got != "99999999ms" {
		t.Errorf("SetBudget(1000h): X-Request-Timeout = %q, want 99999999ms", got)
	}
}

// TestForwardBudgetAtAllocs pins the cost on every forwarded request: two
// allocations for the timeout fields.
func TestForwardBudgetAtAllocs(t *testing.T) {
	now := time.Now()
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(time.Second))
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1/", nil)
	if n := testing.AllocsPerRun(100, func() { leveehttp.ForwardBudgetAt(req, now) }); n > 2 {
		t.Errorf("ForwardBudgetAt allocates %v times per call, want at most 2", n)
	}
}

func ExampleForwardBudgetAt() {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithDeadline(levee.WithCriticality(context.Background(), levee.Sheddable), now.Add(250*time.Millisecond))
	defer cancel()
	out, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://backend.internal/", nil)
	out.Header.Set("X-Request-Timeout", "10s") // the client's, already on ctx
	leveehttp.ForwardBudgetAt(out, now)
	fmt.Println(out.Header.Get("Grpc-Timeout"), out.Header.Get("X-Request-Timeout"), out.Header.Get("X-Criticality"))
	// Output: 250m 250ms SHEDDABLE
}
