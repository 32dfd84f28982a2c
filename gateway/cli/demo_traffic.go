package cli

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee/gateway/proxy"
)

// What the demo's traffic counts, as indexes into demoCounts.
const (
	cSent             = iota // requests sent
	cOK                      // 2xx from the upstream
	cFallback                // answered by the route's fallback
	cRateLimited             // 429 rate_limited
	cBreaker                 // 503 breaker_open (no fallback)
	cShed                    // 503 shed
	cConcurrency             // 503 concurrency_limited
	cTimeout                 // 504
	cUpstream5xx             // a 5xx of the upstream's own
	cOther                   // any other answer
	cFailed                  // no answer at all
	cSheddableSent           // /orders requests sent as SHEDDABLE...
	cSheddableOK             // ...answered 2xx
	cSheddableRefused        // ...shed or over the adaptive limit
	cCriticalSent            // /orders requests sent as CRITICAL...
	cCriticalOK
	cCriticalRefused
	nCounts
)

// demoCounts are the answers of one stretch of traffic, indexed by the
// c… constants.
type demoCounts [nCounts]int64

func (c *demoCounts) add(o demoCounts) {
	for i := range c {
		c[i] += o[i]
	}
}

// refused is how many requests the gateway refused for a policy.
func (c demoCounts) refused() int64 {
	return c[cRateLimited] + c[cBreaker] + c[cShed] + c[cConcurrency]
}

// demoCounters are demoCounts being counted.
type demoCounters [nCounts]atomic.Int64

// take returns the counts so far and starts again from zero.
func (c *demoCounters) take() demoCounts {
	var d demoCounts
	for i := range c {
		d[i] = c[i].Swap(0)
	}
	return d
}

// count classifies one answer (or err when there was none) to a request
// sent with criticality crit ("" unless the request went to /orders).
func (c *demoCounters) count(resp *http.Response, err error, crit string) {
	c[cSent].Add(1)
	kind, reason := cOther, ""
	if err == nil {
		reason = resp.Header.Get(proxy.ReasonHeader)
	}
	switch {
	case err != nil:
		kind = cFailed
	case strings.HasPrefix(reason, "fallback_"):
		kind = cFallback
	case resp.StatusCode < 300:
		kind = cOK
	case resp.StatusCode == http.StatusTooManyRequests:
		kind = cRateLimited
	case reason == proxy.ReasonBreakerOpen:
		kind = cBreaker
	case reason == proxy.ReasonShed:
		kind = cShed
	case reason == proxy.ReasonConcurrency:
		kind = cConcurrency
	case resp.StatusCode == http.StatusGatewayTimeout:
		kind = cTimeout
	case resp.StatusCode >= 500 && reason == "":
		kind = cUpstream5xx
	}
	c[kind].Add(1)
	base := -1
	switch crit {
	case "SHEDDABLE":
		base = cSheddableSent
	case "CRITICAL":
		base = cCriticalSent
	}
	if base < 0 {
		return
	}
	c[base].Add(1)
	switch kind {
	case cOK:
		c[base+1].Add(1)
	case cShed, cConcurrency:
		c[base+2].Add(1)
	}
}

// The demo's load: a few steady clients on every route, and during the
// flood many more on /orders. Every client waits for its answer before it
// sends again, so the load is bounded by the number of clients.
const (
	steadyClients    = 4
	steadyInterval   = 20 * time.Millisecond // between one steady client's requests
	floodSheddable   = 16                    // flood clients sending SHEDDABLE requests
	floodCritical    = 8                     // flood clients sending CRITICAL requests
	floodInterval    = 2 * time.Millisecond  // a flood client's pause between requests
	demoClientBudget = steadyClients + floodSheddable + floodCritical
)

// demoTraffic drives requests to the gateway and counts the answers.
type demoTraffic struct {
	counts demoCounters
	base   string
	client *http.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup

	flood     context.CancelFunc // nil when no flood runs
	floodDone sync.WaitGroup
}

func startDemoTraffic(base string) *demoTraffic {
	ctx, cancel := context.WithCancel(context.Background())
	t := &demoTraffic{cancel: cancel, base: base, client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: demoClientBudget, MaxConnsPerHost: demoClientBudget}}}
	paths := [...]string{"/catalog/items", "/recommendations/for-you", "/search/q", "/orders/new"}
	for i := range steadyClients {
		t.wg.Go(func() {
			tick := time.NewTicker(steadyInterval)
			defer tick.Stop()
			for n := i; ; n++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				p := paths[n%len(paths)]
				crit := ""
				if strings.HasPrefix(p, "/orders") {
					crit = "CRITICAL"
				}
				if !t.send(ctx, p, crit) {
					return
				}
			}
		})
	}
	return t
}

// send sends one request and counts its answer; it reports false when ctx
// ended, the request then not counted.
func (t *demoTraffic) send(ctx context.Context, path, crit string) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.base+path, nil)
	if crit != "" {
		req.Header.Set("X-Criticality", crit)
	}
	resp, err := t.client.Do(req)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if ctx.Err() != nil {
		return false
	}
	t.counts.count(resp, err, crit)
	return true
}

// enter starts the flood when the timeline enters the flood phase.
func (t *demoTraffic) enter(k demoPhaseKind) {
	if k != phaseFlood || t.flood != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.flood = cancel
	for i := range floodSheddable + floodCritical {
		crit := "SHEDDABLE"
		if i >= floodSheddable {
			crit = "CRITICAL"
		}
		t.floodDone.Go(func() {
			for t.send(ctx, "/orders/new", crit) {
				select {
				case <-ctx.Done():
					return
				case <-time.After(floodInterval):
				}
			}
		})
	}
}

// leave stops the flood, and waits for its clients, when the timeline
// leaves the flood phase.
func (t *demoTraffic) leave(k demoPhaseKind) {
	if k == phaseFlood {
		t.stopFlood()
	}
}

func (t *demoTraffic) stopFlood() {
	if t.flood != nil {
		t.flood()
		t.floodDone.Wait()
		t.flood = nil
	}
}

// stop stops every client and waits for them.
func (t *demoTraffic) stop() {
	t.stopFlood()
	t.cancel()
	t.wg.Wait()
	t.client.CloseIdleConnections()
}
