package concurrency_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/concurrency"
)

// A bulkhead of two slots without a queue refuses a third concurrent call
// at once.
func ExampleBulkhead() {
	b, err := concurrency.NewBulkhead(concurrency.BulkheadConfig{Name: "db", MaxConcurrent: 2})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	p1, _ := b.Acquire(ctx)
	p2, _ := b.Acquire(ctx)
	_, err = b.Acquire(ctx)
	fmt.Println(err, errors.Is(err, levee.ErrRejected))
	fmt.Println("in flight:", b.InFlight())

	p1.Done(nil) // the call ended: its slot is free again
	p2.Done(nil)
	fmt.Println("in flight:", b.InFlight())
	// Output:
	// levee: bulkhead full true
	// in flight: 2
	// in flight: 0
}

// In a pipeline the bulkhead admits and releases around every call.
func ExampleBulkhead_pipeline() {
	b, err := concurrency.NewBulkhead(concurrency.BulkheadConfig{MaxConcurrent: 10, MaxQueue: 100})
	if err != nil {
		panic(err)
	}
	p := levee.New(b)
	v, err := levee.Do(context.Background(), p, func(ctx context.Context) (string, error) {
		return "answer", nil
	})
	fmt.Println(v, err, b.InFlight())
	// Output: answer <nil> 0
}

// SetLimit changes the limit while calls run; waiters are admitted as soon
// as the new limit allows.
func ExampleBulkhead_SetLimit() {
	b, _ := concurrency.NewBulkhead(concurrency.BulkheadConfig{MaxConcurrent: 1})
	p, _ := b.Acquire(context.Background())
	_, err := b.Acquire(context.Background())
	fmt.Println(err)

	_ = b.SetLimit(2)
	q, err := b.Acquire(context.Background())
	fmt.Println(err, b.InFlight(), b.Limit())
	p.Done(nil)
	q.Done(nil)
	// Output:
	// levee: bulkhead full
	// <nil> 2 2
}
