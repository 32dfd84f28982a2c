package concurrency_test

import (
	"context"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/concurrency"
	"github.com/levee-go/levee/internal/conformance"
)

// TestBulkheadRefusalConformance checks a full bulkhead without a queue:
// it refuses at once, with ErrBulkheadFull, without allocating.
func TestBulkheadRefusalConformance(t *testing.T) {
	conformance.TestGate(t, conformance.Gate{
		New: func(clk clock.Clock) levee.Gate {
			b, err := concurrency.NewBulkhead(concurrency.BulkheadConfig{MaxConcurrent: 2, Clock: clk})
			if err != nil {
				t.Fatalf("NewBulkhead = %v", err)
			}
			return b
		},
		Replenishes:       true,
		ZeroAllocs:        true,
		ZeroAllocRefusals: true,
		// The slots stay taken: the bulkhead refuses until they are
		// given back, whatever the clock does.
		Refuse: func(g levee.Gate) (time.Duration, error) {
			b := g.(*concurrency.Bulkhead)
			for b.InFlight() < b.Limit() {
				if _, err := b.Acquire(context.Background()); err != nil {
					panic(err)
				}
			}
			return 0, levee.ErrBulkheadFull
		},
	})
}
