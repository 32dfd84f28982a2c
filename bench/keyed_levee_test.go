package bench

import (
	"testing"

	"github.com/levee-go/levee/ratelimit"
)

// leveeKeyedLimiters: ratelimit.Keyed, a sharded table of per-key GCRA
// states with bounded memory, sized for the 1M keys (its default MaxKeys is
// 1<<20) so that nothing is evicted; AllowKey is its non-blocking call.
func leveeKeyedLimiters() []keyedImpl {
	return []keyedImpl{{
		name: "levee",
		new: func(tb testing.TB) func(string) bool {
			k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{
				Rate:    ratelimit.PerSecond(allowRate),
				Burst:   allowBurst,
				MaxKeys: 1 << 20,
			})
			if err != nil {
				tb.Fatal(err)
			}
			return k.AllowKey
		},
	}}
}
