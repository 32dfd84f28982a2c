package bench

import (
	"context"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	fshedge "github.com/failsafe-go/failsafe-go/hedgepolicy"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/hedge"
)

// The hedge figure measures the cost a hedging policy adds to one call that
// answers before the hedge delay: the common case, where no hedge starts.
// Both implementations allow one hedge after 1 h, so none fires; the call
// returns at once, so the figure is the policy's own overhead.

const hedgeDelay = time.Hour

// BenchmarkHedge: one successful call through a hedging policy, no hedge
// started, one goroutine.
func BenchmarkHedge(b *testing.B) {
	runImpls(b, []impl{
		{"levee", func(b *testing.B) {
			// hedge.Hedger in a pipeline of its own, built once; levee.Do is
			// the only way to run a Wrapper.
			h, err := hedge.New(hedge.Config{MaxHedges: 1, Delay: hedgeDelay})
			if err != nil {
				b.Fatal(err)
			}
			p := levee.New(h)
			ctx := context.Background()
			for b.Loop() {
				if _, err := levee.Do(ctx, p, work); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{"failsafe", func(b *testing.B) {
			// hedgepolicy.NewWithDelay with WithMaxHedges(1), executor built
			// once and reused; Get is its cheapest call (no per-call context
			// wrapper).
			hp := fshedge.NewBuilderWithDelay[int](hedgeDelay).WithMaxHedges(1).Build()
			ex := failsafe.With[int](hp)
			ctx := context.Background()
			fn := func() (int, error) { return work(ctx) }
			for b.Loop() {
				if _, err := ex.Get(fn); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{"bare", benchBare},
	})
}
