package proxy

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/gateway/config"
)

// checker probes every target of an upstream with an HTTP GET, one
// goroutine per target, and marks a target unhealthy after
// unhealthy_threshold failed probes in a row and healthy again after
// healthy_threshold passed ones. Targets start healthy, so that a gateway
// starting up does not refuse traffic until its first probes return.
type checker struct {
	upstream string
	cfg      config.HealthCheck
	ranges   [][2]int // expected status ranges, inclusive
	client   *http.Client
	clk      clock.Clock
	log      *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex                     // loops
	loops map[*target]context.CancelFunc // one probe loop per target
}

func startChecks(u *upstream, hc config.HealthCheck, clk clock.Clock, log *slog.Logger) *checker {
	c := &checker{
		upstream: u.name, cfg: hc, clk: clock.Or(clk), log: log,
		// Probes share the upstream's pool but never follow redirects: a
		// 3xx is the target's answer.
		client: &http.Client{Transport: u.transport, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
	for _, s := range hc.ExpectStatus {
		lo, hi, _ := strings.Cut(s, "-")
		a, _ := strconv.Atoi(strings.TrimSpace(lo))
		b := a
		if hi != "" {
			b, _ = strconv.Atoi(strings.TrimSpace(hi))
		}
		c.ranges = append(c.ranges, [2]int{a, b})
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.loops = map[*target]context.CancelFunc{}
	for _, t := range u.pool().targets {
		c.add(t)
	}
	return c
}

// add starts probing t, a target new to the upstream.
func (c *checker) add(t *target) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.loops[t]; ok || c.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	c.loops[t] = cancel
	c.wg.Add(1)
	go c.loop(ctx, t)
}

// remove stops probing t, a target the upstream no longer has.
func (c *checker) remove(t *target) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cancel, ok := c.loops[t]; ok {
		cancel()
		delete(c.loops, t)
	}
}

// stop ends every probe loop and waits for them.
func (c *checker) stop() {
	c.mu.Lock()
	c.cancel() // under mu: add starts no loop after this
	c.mu.Unlock()
	c.wg.Wait()
}

func (c *checker) loop(ctx context.Context, t *target) {
	defer c.wg.Done()
	for {
		c.probe(ctx, t)
		tm := c.clk.NewTimer(c.cfg.Interval)
		select {
		case <-tm.C():
		case <-ctx.Done():
			tm.Stop()
			return
		}
	}
}

// probe sends one check and counts its result.
func (c *checker) probe(loop context.Context, t *target) {
	ctx, cancel := context.WithTimeout(loop, c.cfg.Timeout)
	defer cancel()
	pass := false
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url.String()+c.cfg.Path, nil)
	if err == nil {
		req.Header.Set("User-Agent", "levee-health-check")
		resp, err := c.client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			pass = c.expected(resp.StatusCode)
		}
	}
	if loop.Err() != nil {
		return // stopping: the probe was cut, not failed
	}
	if pass {
		t.passes, t.fails = t.passes+1, 0
		if !t.healthy.Load() && t.passes >= c.cfg.HealthyThreshold {
			t.healthy.Store(true)
			c.log.Info("proxy: target healthy", "upstream", c.upstream, "target", t.url.Host)
		}
		return
	}
	t.fails, t.passes = t.fails+1, 0
	if t.healthy.Load() && t.fails >= c.cfg.UnhealthyThreshold {
		t.healthy.Store(false)
		c.log.Warn("proxy: target unhealthy", "upstream", c.upstream, "target", t.url.Host)
	}
}

func (c *checker) expected(status int) bool {
	for _, r := range c.ranges {
		if status >= r[0] && status <= r[1] {
			return true
		}
	}
	return false
}
