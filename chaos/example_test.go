package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/chaos"
	"github.com/levee-go/levee/clock/clocktest"
)

// An injector at the innermost stage of a pipeline stands in for a failing
// dependency; the call itself does not run.
func ExampleInjector() {
	in, err := chaos.New(chaos.Config{Faults: []chaos.Fault{
		chaos.HTTPStatus(100, 503), // every call: answer 503
	}})
	if err != nil {
		panic(err)
	}
	p := levee.New(in)
	_, err = levee.Do(context.Background(), p, func(context.Context) (string, error) {
		return "real answer", nil
	})
	var status interface{ HTTPStatus() int }
	fmt.Println(err, errors.As(err, &status) && status.HTTPStatus() == 503)
	// Output: chaos: injected HTTP status 503 true
}

// Faults are switched at run time without rebuilding the pipeline.
func ExampleInjector_Disable() {
	in, _ := chaos.New(chaos.Config{Faults: []chaos.Fault{chaos.Error(100, nil)}})
	p := levee.New(in)
	call := func() error {
		return p.Run(context.Background(), func(context.Context) error { return nil })
	}
	fmt.Println(call())
	in.Disable()
	fmt.Println(call())
	_ = in.Set(chaos.Error(100, errors.New("disk full")))
	in.Enable()
	fmt.Println(call())
	// Output:
	// chaos: injected fault
	// <nil>
	// disk full
}

// A match limits a fault to the calls that carry a tag, such as those of a
// canary or a test.
func ExampleMatchTag() {
	in, _ := chaos.New(chaos.Config{Faults: []chaos.Fault{
		chaos.Error(100, nil).When(chaos.MatchTag("game-day")),
	}})
	p := levee.New(in)
	ok := func(context.Context) error { return nil }
	fmt.Println(p.Run(context.Background(), ok))
	fmt.Println(p.Run(chaos.WithTag(context.Background(), "game-day"), ok))
	// Output:
	// <nil>
	// chaos: injected fault
}

// Injected delays run on the injector's clock; a test steps a fake one
// instead of sleeping.
func ExampleLatency() {
	clk := clocktest.New(time.Time{})
	in, _ := chaos.New(chaos.Config{Clock: clk, Faults: []chaos.Fault{chaos.Latency(100, 2*time.Second)}})
	done := make(chan error)
	go func() {
		_, err := in.Acquire(context.Background())
		done <- err
	}()
	clk.BlockUntil(1) // the call is held back
	clk.Advance(2 * time.Second)
	fmt.Println(<-done)
	// Output: <nil>
}

// A seed makes the choice of the calls that get a fault repeat from run to
// run.
func ExampleConfig_seed() {
	in, _ := chaos.New(chaos.Config{Seed: 7, Faults: []chaos.Fault{chaos.Error(25, nil)}})
	hits := 0
	for range 1000 {
		if _, err := in.Acquire(context.Background()); err != nil {
			hits++
		}
	}
	fmt.Println(hits, "of 1000 calls failed")
	// Output: 271 of 1000 calls failed
}
