package ratelimit_test

import (
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/ratelimit"
)

// steppingClock returns readings from a list, then the fake's time: it
// plays a caller that read the clock, was preempted while another caller
// decided at a later time, and then decided with its old reading.
type steppingClock struct {
	*clocktest.Fake
	readings []int64
}

func (c *steppingClock) Nanotime() int64 {
	if len(c.readings) > 0 {
		r := c.readings[0]
		c.readings = c.readings[1:]
		return r
	}
	return c.Fake.Nanotime()
}

func TestStaleReadingIsNotRefused(t *testing.T) {
	for _, name := range []string{"gcra", "tokenbucket"} {
		t.Run(name, func(t *testing.T) {
			clk := &steppingClock{Fake: clocktest.New(time.Time{})}
			cfg := ratelimit.Config{Rate: ratelimit.PerSecond(1000), Burst: 1, Clock: clk}
			var lim interface {
				Allow() bool
				AllowAt(int64) bool
				Decide() levee.Decision
			}
			var err error
			if name == "gcra" {
				lim, err = ratelimit.NewGCRA(cfg)
			} else {
				lim, err = ratelimit.NewTokenBucket(cfg)
			}
			if err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Second)
			now := clk.Fake.Nanotime()
			// Another caller decided at now; this one read the clock 2ms
			// earlier (two tokens' worth) and was preempted.
			if !lim.AllowAt(now) {
				t.Fatal("first call refused")
			}
			clk.Advance(2 * time.Millisecond)
			clk.readings = []int64{now - int64(2*time.Millisecond)}
			if !lim.Allow() {
				t.Error("Allow with a stale reading refused a call the limiter has room for")
			}
			clk.Advance(2 * time.Millisecond)
			clk.readings = []int64{clk.Fake.Nanotime() - int64(4*time.Millisecond)}
			if d := lim.Decide(); !d.Allowed {
				t.Errorf("Decide with a stale reading = %+v, want allowed", d)
			}
			// An explicit instant is taken at its word.
			if lim.AllowAt(now - int64(10*time.Millisecond)) {
				t.Error("AllowAt an instant long before the last decision admitted")
			}
		})
	}
}
