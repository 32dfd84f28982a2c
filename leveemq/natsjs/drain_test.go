package natsjs_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee/leveemq"
)

// Ending Run's context lets the handlers in flight finish and acknowledge;
// the messages not started stay with the durable consumer and a later
// consumer processes exactly those.
func TestDrainFinishesInFlightAndStopsFetching(t *testing.T) {
	_, js := connect(t)
	top := topology(t, js, time.Second)
	const n, inFlight = 20, 3
	publish(t, js, top.Subject, ids("d", n)...)

	src := source(t, js, top)
	started := make(chan struct{}, n)
	release := make(chan struct{})
	var finished, finishedAtReturn atomic.Int64
	c, err := leveemq.New(leveemq.Config{
		Source: src, Concurrency: bulkhead(t, inFlight),
		Handler: func(ctx context.Context, m leveemq.Message) error {
			started <- struct{}{}
			<-release
			if ctx.Err() != nil {
				t.Errorf("handler context ended during the drain: %v", ctx.Err())
			}
			finished.Add(1)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := c.Run(ctx)
		finishedAtReturn.Store(finished.Load())
		done <- err
	}()
	timeout := time.After(10 * time.Second)
	for range inFlight {
		select {
		case <-started:
		case <-timeout:
			t.Fatal("handlers did not start")
		}
	}
	cancel()
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil after a drain", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the handlers finished")
	}
	if got := finishedAtReturn.Load(); got != inFlight {
		t.Errorf("%d handlers had finished when Run returned, want the %d in flight", got, inFlight)
	}
	src.Stop()

	// A second consumer gets exactly the messages the first did not start.
	seen := map[string]bool{}
	var dup atomic.Int64
	c2, err := leveemq.New(leveemq.Config{
		Source: source(t, js, top), Concurrency: bulkhead(t, 1),
		Handler: func(ctx context.Context, m leveemq.Message) error {
			if seen[m.ID] {
				dup.Add(1)
			}
			seen[m.ID] = true
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel2()
	done2 := make(chan error, 1)
	go func() { done2 <- c2.Run(ctx2) }()
	eventually(t, 40*time.Second, "the unstarted messages processed by a second consumer", func() bool {
		return c2.Stats().Processed >= n-inFlight && settled(t, js, top)
	})
	cancel2()
	if err := <-done2; err != nil {
		t.Fatalf("second consumer: Run = %v", err)
	}
	if p := c2.Stats().Processed; p != n-inFlight || dup.Load() != 0 {
		t.Errorf("second consumer processed %d (%d repeats), want the %d unstarted once each", p, dup.Load(), n-inFlight)
	}
}
