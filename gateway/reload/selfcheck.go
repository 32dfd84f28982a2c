package reload

import (
	"context"
	"time"

	"github.com/levee-go/levee/slo"
)

// startSelfCheck watches rt, just swapped in for prev, with c.mu held; it
// reports whether a check started.
func (c *Controller) startSelfCheck(rt *runtime, prev Version) bool {
	sc := rt.cfg.Reload.SelfCheck
	check, err := slo.NewSelfCheck(slo.SelfCheckConfig{
		SLOs:          rt.proxy.SLOs(),
		Period:        sc.Period,
		MaxBurnRate:   sc.MaxBurnRate,
		MinEvents:     int64(sc.MinEvents),
		MaxRegression: sc.MaxRegression,
	})
	if err != nil {
		c.log.Error("reload: self-check not started", "version", rt.version.Version, "error", err.Error())
		c.status.SelfCheck = nil
		return false
	}
	gen := c.checkGen
	c.status.SelfCheck = &SelfCheckStatus{Version: rt.version.Version, Previous: prev.Version, Started: c.clk.Now(),
		Period: sc.Period, State: "running"}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.watch(gen, check, rt, prev, checkTick(sc.Period))
	}()
	return true
}

// checkTick is how often a self-check reads its figures: a tenth of the
// period, between 50ms and 1s, so that a harmful configuration is rolled
// back soon after its errors pass min_events.
func checkTick(period time.Duration) time.Duration {
	return min(max(period/10, 50*time.Millisecond), time.Second)
}

// watch reads the check every tick until it fails (and rolls back),
// passes, or a newer apply replaces the version watched.
func (c *Controller) watch(gen uint64, check *slo.SelfCheck, rt *runtime, prev Version, tick time.Duration) {
	for {
		tm := c.clk.NewTimer(tick)
		select {
		case <-tm.C():
		case <-c.stop:
			tm.Stop()
			return
		}
		r := check.Result()
		c.mu.Lock()
		if c.checkGen != gen {
			if c.status.SelfCheck != nil && c.status.SelfCheck.Version == rt.version.Version {
				c.status.SelfCheck.State = "cancelled"
			}
			c.mu.Unlock()
			return
		}
		c.status.SelfCheck.Result = r
		switch {
		case !r.Pass:
			c.rollback(rt, prev, r)
			c.mu.Unlock()
			return
		case r.Done:
			c.status.SelfCheck.State = "passed"
			c.log.Info("reload: self-check passed", "version", rt.version.Version, "period", r.Elapsed)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
}

// rollback undoes rt, whose self-check failed with r, by applying prev
// again, and marks rt's document bad. c.mu is held.
func (c *Controller) rollback(rt *runtime, prev Version, r slo.CheckResult) {
	reason := r.Err().Error()
	c.bad[rt.version.Hash] = reason
	c.status.SelfCheck.State = "failed"
	c.status.SelfCheck.Error = reason
	c.log.Error("reload: self-check failed; rolling back", "version", rt.version.Version, "to", prev.Version, "reason", reason)
	ctx, cancel := context.WithTimeout(context.Background(), 2*rt.cfg.Reload.WarmTimeout)
	defer cancel()
	sc := c.status.SelfCheck
	rep, err := c.apply(ctx, prev.Raw, ApplyOptions{Source: SourceRollback, Force: true}, false)
	c.status.SelfCheck = sc // apply without a check clears it; keep the failed one
	if err != nil {
		c.log.Error("reload: rollback failed; the harmful configuration still runs", "version", rt.version.Version, "error", err.Error())
		return
	}
	c.opts.Metrics.Attempt(rt.version.Source, "rolled_back")
	c.status.Last.Result = "rolled_back"
	c.log.Info("reload: rolled back", "bad", rt.version.Version, "running", rep.Version.Version)
}
