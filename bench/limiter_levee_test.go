package bench

import (
	"testing"
	"time"

	"github.com/levee-go/levee/ratelimit"
)

// leveeLimiters: ratelimit's token bucket and GCRA, each through Allow, its
// non-blocking call, with the same rate and burst as the peers; each on the
// system clock and on the coarse clock (Config.CoarseClock: a reading
// refreshed every millisecond by one goroutine, which the burst of 1 ms of
// allowRate covers).
func leveeLimiters() []limiterImpl {
	type ctor func(ratelimit.Config) (interface{ Allow() bool }, error)
	tb := func(c ratelimit.Config) (interface{ Allow() bool }, error) { return ratelimit.NewTokenBucket(c) }
	gcra := func(c ratelimit.Config) (interface{ Allow() bool }, error) { return ratelimit.NewGCRA(c) }
	mk := func(name string, newL ctor, coarse bool) limiterImpl {
		build := func(tb testing.TB, c ratelimit.Config) interface{ Allow() bool } {
			c.CoarseClock = coarse
			l, err := newL(c)
			if err != nil {
				tb.Fatal(err)
			}
			return l
		}
		return limiterImpl{
			name: name,
			newAllow: func(tb testing.TB) allowLimiter {
				return build(tb, ratelimit.Config{Rate: ratelimit.PerSecond(allowRate), Burst: allowBurst}).Allow
			},
			newReject: func(tb testing.TB) allowLimiter {
				l := build(tb, ratelimit.Config{Rate: ratelimit.Every(time.Hour), Burst: 1})
				l.Allow()
				return l.Allow
			},
		}
	}
	return []limiterImpl{
		mk("levee/tokenbucket", tb, false), mk("levee/gcra", gcra, false),
		mk("levee/tokenbucket-coarse", tb, true), mk("levee/gcra-coarse", gcra, true),
	}
}
