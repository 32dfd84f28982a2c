package fallback_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/fallback"
)

func Example() {
	cache, _ := fallback.NewCache[string](fallback.CacheConfig{})
	chain, err := fallback.New(fallback.Config{},
		fallback.Stale(cache),         // the last good answer, if any
		fallback.Value("(no prices)"), // otherwise a fixed one
	)
	if err != nil {
		panic(err)
	}
	chain.OnEvent(func(e levee.Event) { fmt.Printf("fallback: %s → %s\n", e.Reason, e.To) })
	p := levee.New(chain)

	for _, up := range []bool{false, true, false} {
		v, err := levee.Do(context.Background(), p, func(context.Context) (string, error) {
			if !up {
				return "", errors.New("prices: connection refused")
			}
			return "apple 3, pear 4", nil
		})
		fmt.Println(v, err)
	}
	// Output:
	// fallback: failure → value
	// (no prices) <nil>
	// apple 3, pear 4 <nil>
	// fallback: failure → stale
	// apple 3, pear 4 <nil>
}

func ExampleTrigger() {
	// Fall back only when a breaker is open or the call timed out.
	chain, _ := fallback.New(fallback.Config{Triggers: fallback.OnOpen | fallback.OnTimeout}, fallback.Value(0))
	p := levee.New(chain)
	for _, err := range []error{levee.ErrOpen, levee.ErrTimeout, errors.New("bad request")} {
		v, got := levee.Do(context.Background(), p, func(context.Context) (int, error) { return -1, err })
		fmt.Println(v, got)
	}
	// Output:
	// 0 <nil>
	// 0 <nil>
	// -1 bad request
}

func ExampleFunc() {
	// The alternate call runs through a pipeline of its own.
	replica := levee.New()
	chain, _ := fallback.New(fallback.Config{Name: "prices"},
		fallback.Func(func(ctx context.Context, err error) (string, error) {
			return levee.Do(ctx, replica, func(context.Context) (string, error) {
				return "from the replica", nil
			})
		}),
	)
	v, err := levee.Do(context.Background(), levee.New(chain), func(context.Context) (string, error) {
		return "", levee.ErrOpen // the primary's breaker is open
	})
	fmt.Println(v, err)
	// Output:
	// from the replica <nil>
}
