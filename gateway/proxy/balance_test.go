package proxy

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

// TestLeastRequest holds requests on one target and checks that, while it
// has one in flight, every other request goes to the idle target.
func TestLeastRequest(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 64)
	slow := echoUpstreamHandler(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.Header().Set("X-Upstream", "slow")
	})
	fast := echoUpstream(t, "fast")
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - name: pool
    targets: [{url: %q}, {url: %q}]
    balancing: {policy: least_request}
routes: [{name: all, upstream: pool}]
`, slow, fast.URL), nil)

	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(release)
	// Send requests in the background until one is held by the slow
	// target (each goes there with probability 1/2 while both are idle).
	held := false
	for i := 0; i < 30 && !held; i++ {
		done := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done)
			if resp, err := http.Get(gw.URL + "/"); err == nil {
				resp.Body.Close()
			}
		}()
		select {
		case <-arrived:
			held = true
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("a request took over 10s")
		}
	}
	if !held {
		t.Fatal("30 requests, none went to the slow target")
	}
	for i := range 20 {
		resp, _ := get(t, gw.URL+"/")
		if got := resp.Header.Get("X-Upstream"); got != "fast" {
			t.Fatalf("request %d went to %q while slow had one in flight, want fast", i+1, got)
		}
	}
}

// TestConsistentHash checks that each key keeps going to one target, that
// keys spread over the targets, and the same for a cookie.
func TestConsistentHash(t *testing.T) {
	a, b, c := echoUpstream(t, "a"), echoUpstream(t, "b"), echoUpstream(t, "c")
	_, gw := gateway(t, fmt.Sprintf(`
listeners: [{name: public, address: "127.0.0.1:0"}]
upstreams:
  - {name: by-header, targets: [{url: %[1]q}, {url: %[2]q}, {url: %[3]q}], balancing: {policy: consistent_hash, hash: {header: x-user-id}}}
  - {name: by-cookie, targets: [{url: %[1]q}, {url: %[2]q}, {url: %[3]q}], balancing: {policy: consistent_hash, hash: {cookie: session}}}
routes:
  - {name: header, upstream: by-header, match: {path_prefix: /h}}
  - {name: cookie, upstream: by-cookie, match: {path_prefix: /c}}
`, a.URL, b.URL, c.URL), nil)
	for _, mode := range []string{"header", "cookie"} {
		used := map[string]bool{}
		for k := range 30 {
			key := fmt.Sprintf("user-%d", k)
			first := ""
			for range 3 {
				req, _ := http.NewRequest(http.MethodGet, gw.URL+"/"+mode[:1], nil)
				if mode == "header" {
					req.Header.Set("X-User-Id", key)
				} else {
					req.AddCookie(&http.Cookie{Name: "session", Value: key})
				}
				resp, _ := do(t, req)
				got := resp.Header.Get("X-Upstream")
				if first == "" {
					first = got
				} else if got != first {
					t.Fatalf("%s %s went to %s, then %s", mode, key, first, got)
				}
			}
			used[first] = true
		}
		if len(used) != 3 {
			t.Errorf("30 keys by %s went to %d targets, want all 3", mode, len(used))
		}
	}
	// Without the key, any target answers.
	if resp, _ := get(t, gw.URL+"/h"); resp.StatusCode != http.StatusOK {
		t.Errorf("a request without the key: status %d, want 200", resp.StatusCode)
	}
}

// TestRendezvousStability checks that removing a target moves only the
// keys that were on it, and that weights share keys out in proportion.
func TestRendezvousStability(t *testing.T) {
	mk := func(host string, w int) *target { return &target{url: &url.URL{Host: host}, weight: w} }
	a, b, c := mk("10.0.0.1:80", 1), mk("10.0.0.2:80", 1), mk("10.0.0.3:80", 1)
	moved := 0
	for k := range 3000 {
		key := fmt.Sprint("key-", k)
		before := rendezvous([]*target{a, b, c}, key)
		after := rendezvous([]*target{a, b}, key)
		if before != c && after != before {
			t.Fatalf("%s moved from %s to %s though its target stayed", key, before.url.Host, after.url.Host)
		}
		if before == c {
			moved++
		}
	}
	if moved < 800 || moved > 1200 {
		t.Errorf("c held %d of 3000 keys, want about 1000", moved)
	}
	heavy := mk("10.0.0.4:80", 3)
	counts := map[*target]int{}
	for k := range 4000 {
		counts[rendezvous([]*target{a, heavy}, fmt.Sprint("key-", k))]++
	}
	if n := counts[heavy]; n < 2800 || n > 3200 {
		t.Errorf("a target of weight 3 beside one of weight 1 got %d of 4000 keys, want about 3000", n)
	}
}
