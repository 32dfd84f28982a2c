package rabbitmq_test

import (
	"context"
	"testing"
	"time"

	"github.com/levee-go/levee/leveemq"
)

// The broker's prefetch follows the consumer's concurrency limit: with
// every handler blocked, exactly the limit's worth of messages leaves the
// queue, and raising the limit lets that many more out.
func TestPrefetchFollowsConcurrencyLimit(t *testing.T) {
	conn := dial(t)
	top := topology(t, conn)
	const n = 30
	publish(t, conn, top.Queue, ids("p", n)...)

	limit := bulkhead(t, 4)
	release := make(chan struct{})
	started := make(chan struct{}, n)
	c, err := leveemq.New(leveemq.Config{
		Source: newSource(t, conn, top), Concurrency: limit,
		Handler: func(ctx context.Context, m leveemq.Message) error {
			started <- struct{}{}
			<-release
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	defer func() {
		stop()
		select {
		case <-release:
		default:
			close(release)
		}
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()

	waitStarted := func(k int) {
		t.Helper()
		for range k {
			select {
			case <-started:
			case <-ctx.Done():
				t.Fatal("handlers did not start")
			}
		}
	}
	waitStarted(4)
	eventually(t, 5*time.Second, "30-4 messages ready in the queue", func() bool {
		return depth(t, conn, top.Queue) == n-4
	})
	if err := limit.SetLimit(6); err != nil {
		t.Fatal(err)
	}
	waitStarted(2)
	eventually(t, 5*time.Second, "30-6 messages ready in the queue after the limit rose", func() bool {
		return depth(t, conn, top.Queue) == n-6
	})
	if d := depth(t, conn, top.Queue); d != n-6 {
		t.Errorf("queue depth %d, want %d: the prefetch outran the limit", d, n-6)
	}
}
