package rabbitmq_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee/leveemq"
)

// Ending Run's context stops fetching but lets the handlers in flight
// finish and acknowledge; the messages not started stay in the queue.
func TestDrainFinishesInFlightAndStopsFetching(t *testing.T) {
	conn := dial(t)
	top := topology(t, conn)
	const n, inFlight = 20, 3
	publish(t, conn, top.Queue, ids("d", n)...)

	src := newSource(t, conn, top)
	started := make(chan struct{}, n)
	release := make(chan struct{})
	var finished atomic.Int64
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
	var finishedAtReturn atomic.Int64
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
	select {
	case err := <-done:
		t.Fatalf("Run returned %v with handlers still in flight", err)
	default:
	}
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
	if s := c.Stats(); s.Processed != inFlight {
		t.Errorf("stats %+v, want %d processed", s, inFlight)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the unstarted messages back in the queue", func() bool {
		return depth(t, conn, top.Queue) == n-inFlight
	})
}
