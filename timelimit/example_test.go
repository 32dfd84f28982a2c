package timelimit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/timelimit"
)

func Example() {
	tl, err := timelimit.New(timelimit.Config{Timeout: 10 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	p := levee.New(tl)

	_, err = levee.Do(context.Background(), p, func(ctx context.Context) (string, error) {
		<-ctx.Done() // a dependency that does not answer in time
		return "", ctx.Err()
	})
	fmt.Println(err)
	fmt.Println("timeout:", errors.Is(err, levee.ErrTimeout))
	fmt.Println("deadline exceeded:", errors.Is(err, context.DeadlineExceeded))
	// Output:
	// timelimit: attempt time limit 10ms exceeded
	// timeout: true
	// deadline exceeded: true
}

func ExampleRemaining() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	left, ok := timelimit.Remaining(ctx)
	fmt.Println(left > 59*time.Minute, ok)
	_, ok = timelimit.Remaining(context.Background())
	fmt.Println(ok)
	// Output:
	// true true
	// false
}

func ExampleConfig_total() {
	// A per-attempt limit and a total limit for the call and its retries.
	// The pipeline orders them: total (StageTotal) outside retry, attempt
	// (StageTimeout) inside.
	attempt, _ := timelimit.New(timelimit.Config{Name: "attempt", Timeout: 10 * time.Millisecond})
	total, _ := timelimit.New(timelimit.Config{Name: "total", Timeout: time.Second, Total: true})
	p := levee.New(attempt, total)
	for _, pol := range p.Policies() {
		tl := pol.(*timelimit.Timelimit)
		fmt.Println(tl.Stage() == timelimit.StageTotal, tl.Timeout())
	}
	_, err := levee.Do(context.Background(), p, func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	var te *timelimit.TimeoutError
	if errors.As(err, &te) {
		fmt.Println(te.Name, "limit hit")
	}
	// Output:
	// true 1s
	// false 10ms
	// attempt limit hit
}
