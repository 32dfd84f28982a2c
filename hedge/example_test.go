package hedge_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/hedge"
)

func Example() {
	h, err := hedge.New(hedge.Config{Delay: 10 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	h.OnEvent(func(e levee.Event) { fmt.Printf("hedge: attempt %d after %v\n", e.Attempt, e.Wait) })
	p := levee.New(h)

	var attempts atomic.Int32
	v, err := levee.Do(context.Background(), p, func(ctx context.Context) (string, error) {
		if attempts.Add(1) == 1 {
			<-ctx.Done() // the first replica is stuck; the winner cancels it
			return "", ctx.Err()
		}
		return "answer from the second replica", nil
	})
	fmt.Println(v, err)
	// Output:
	// hedge: attempt 2 after 10ms
	// answer from the second replica <nil>
}

func ExampleConfig_percentile() {
	// Hedge the slowest 5% of calls: wait for the p95 of recent latencies,
	// 50ms until 20 latencies are known.
	h, _ := hedge.New(hedge.Config{Percentile: 0.95, Delay: 50 * time.Millisecond, MaxHedges: 2})
	fmt.Println(h.Delay())
	// Output:
	// 50ms
}
