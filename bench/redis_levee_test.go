package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/levee-go/levee/redislimit"
)

// leveeRedisLimiters: redislimit's GCRA script, one EVALSHA per decision,
// as configured by default (levee: up to 4 round trips in flight, decisions
// arriving meanwhile pipelined together); with every decision its own
// round trip (levee/unbatched, MaxInFlight -1, as the peers work); and with
// leasing (levee/lease: up to 100 tokens taken per round trip and handed
// out locally; see the package doc for what it trades). A decision answered
// by the fallback instead of Redis fails the benchmark, so a Redis outage
// cannot pass for speed.
func leveeRedisLimiters() []redisImpl {
	mk := func(name string, lease, inFlight int) redisImpl {
		return redisImpl{name: name, new: func(tb testing.TB, key string, rt *atomic.Int64) func(context.Context) (bool, error) {
			lim, err := redislimit.New(redislimit.Config{
				Client:      newRedisClient(tb, rt),
				Limit:       redisRate,
				Burst:       redisBurst,
				Lease:       lease,
				MaxInFlight: inFlight,
			})
			if err != nil {
				tb.Fatal(err)
			}
			return func(ctx context.Context) (bool, error) {
				d, err := lim.DecideKey(ctx, key)
				if err != nil {
					return false, err
				}
				if lim.Fallbacks() != 0 {
					return false, fmt.Errorf("redislimit answered from its fallback, not Redis")
				}
				return d.Allowed, nil
			}
		}}
	}
	return []redisImpl{mk("levee", 0, 0), mk("levee/unbatched", 0, -1), mk("levee/lease", 100, 0)}
}
