package proxy

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
)

// TestOutlierEjection ejects a target after consecutive 5xx answers, brings
// it back after base_ejection_time, ejects it for twice as long the second
// time, and never ejects more than max_ejection_percent of the pool.
func TestOutlierEjection(t *testing.T) {
	var cSick atomic.Bool
	target := func(name string, sick func() bool) string {
		return echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Upstream", name)
			if sick() {
				http.Error(w, "broken", http.StatusInternalServerError)
			}
		})
	}
	a := target("a", func() bool { return true })
	b := target("b", func() bool { return false })
	c := target("c", cSick.Load)
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: pool
    targets: [{url: %q}, {url: %q}, {url: %q}]
    outlier_detection: {consecutive_5xx: 3, base_ejection_time: 30s, max_ejection_time: 300s, max_ejection_percent: 50%%}
routes: [{name: all, upstream: pool}]
`, a, b, c), clk)

	round := func(n int) map[string]int {
		got := map[string]int{}
		for range n {
			resp, _ := get(t, gw.URL+"/")
			got[resp.Header.Get("X-Upstream")]++
		}
		return got
	}
	// Round robin gives a every third request: its third 5xx ejects it.
	round(9)
	if got := round(12); got["a"] != 0 {
		t.Fatalf("after three 5xx in a row, a took %d of 12 requests, want 0: %v", got["a"], got)
	}

	// Only one of three may be out (50% of 3, rounded down, is 1): c
	// failing too is not ejected.
	cSick.Store(true)
	if got := round(12); got["c"] == 0 {
		t.Errorf("c was ejected beside a, beyond max_ejection_percent: %v", got)
	}
	cSick.Store(false)
	round(6) // c's failures in a row end

	clk.Advance(30 * time.Second)
	if got := round(12); got["a"] == 0 {
		t.Fatalf("after base_ejection_time, a took no request: %v", got)
	}
	// a failed three more times in that round: ejected again, for 60s.
	clk.Advance(30 * time.Second)
	if got := round(12); got["a"] != 0 {
		t.Errorf("30s into a second ejection, a took %d requests, want 0 (it lasts 60s)", got["a"])
	}
	clk.Advance(30 * time.Second)
	if got := round(12); got["a"] == 0 {
		t.Errorf("after the second ejection's 60s, a took no request: %v", got)
	}
}

// TestOutlierIntervalChecks runs the success-rate and the
// failure-percentage checks on a pool of five where one target fails every
// request: at the end of the interval it is ejected, and not before.
func TestOutlierIntervalChecks(t *testing.T) {
	for _, check := range []string{
		// Both are put into a format string: a percent sign is doubled.
		"success_rate: {minimum_hosts: 5, request_volume: 10, stdev_factor: 1.9}",
		"failure_percentage: {threshold: 50%%, minimum_hosts: 5, request_volume: 10}",
	} {
		t.Run(check[:strings.IndexByte(check, ':')], func(t *testing.T) {
			var urls []any
			for i := range 5 {
				name := fmt.Sprint("t", i)
				urls = append(urls, echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("X-Upstream", name)
					if name == "t4" {
						http.Error(w, "broken", http.StatusInternalServerError)
					}
				}))
			}
			clk := clocktest.New(time.Unix(1_700_000_000, 0))
			_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: pool
    targets: [{url: %q}, {url: %q}, {url: %q}, {url: %q}, {url: %q}]
    outlier_detection: {consecutive_5xx: 0, interval: 10s, max_ejection_percent: 20%%, `+check+`}
routes: [{name: all, upstream: pool}]
`, urls...), clk)
			round := func(n int) map[string]int {
				got := map[string]int{}
				for range n {
					resp, _ := get(t, gw.URL+"/")
					got[resp.Header.Get("X-Upstream")]++
				}
				return got
			}
			if got := round(50); got["t4"] != 10 {
				t.Fatalf("before the interval ends, t4 took %d of 50 requests, want 10", got["t4"])
			}
			clk.Advance(10 * time.Second)
			if got := round(20); got["t4"] != 0 {
				t.Errorf("after the interval, t4 took %d of 20 requests, want 0 (ejected)", got["t4"])
			}
		})
	}
}
