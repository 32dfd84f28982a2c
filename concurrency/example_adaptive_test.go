package concurrency_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/concurrency"
)

// An adaptive limit with AIMD: a window of successful calls that used the
// limit raises it by one; a window with failures cuts it by 10%.
func ExampleLimiter() {
	clk := clocktest.New(time.Time{})
	aimd, _ := concurrency.NewAIMD(concurrency.AIMDConfig{InitialLimit: 4, MinLimit: 1})
	l, err := concurrency.NewLimiter(concurrency.LimiterConfig{Name: "db", Algorithm: aimd, Clock: clk, MinSamples: 4})
	if err != nil {
		panic(err)
	}
	l.OnEvent(func(e levee.Event) {
		if e.Kind == levee.EventLimitChange {
			fmt.Printf("limit %v -> %v\n", e.Threshold, e.Value)
		}
	})
	ctx := context.Background()
	window := func(callErr error) {
		var ps []levee.Permit
		for {
			p, err := l.Acquire(ctx)
			if errors.Is(err, levee.ErrShed) {
				break // the limit is reached
			}
			ps = append(ps, p)
		}
		clk.Advance(time.Second) // the calls take a while; the window ends
		for _, p := range ps {
			p.Done(callErr)
		}
	}
	window(nil)
	window(nil)
	window(errors.New("overloaded"))
	fmt.Println("limit:", l.Limit())
	// Output:
	// limit 4 -> 5
	// limit 5 -> 6
	// limit 6 -> 5
	// limit: 5
}

// A Gradient2 limit in a pipeline: the zero configuration is ready to use.
func ExampleNewLimiter() {
	l, err := concurrency.NewLimiter(concurrency.LimiterConfig{Name: "api", MaxQueue: 16, LIFO: true, MaxWait: 50 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	p := levee.New(l)
	v, err := levee.Do(context.Background(), p, func(context.Context) (string, error) { return "ok", nil })
	fmt.Println(v, err, l.Limit())
	// Output: ok <nil> 20
}
