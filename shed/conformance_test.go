package shed_test

import (
	"context"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/internal/conformance"
	"github.com/levee-go/levee/shed"
)

func TestShedderConformance(t *testing.T) {
	conformance.TestGate(t, conformance.Gate{
		New: func(clk clock.Clock) levee.Gate {
			s, err := shed.New(shed.Config{Clock: clk})
			if err != nil {
				t.Fatalf("New = %v", err)
			}
			return s
		},
		Replenishes: true,
		ZeroAllocs:  true,
	})
}

func TestInFlightConformance(t *testing.T) {
	conformance.TestGate(t, conformance.Gate{
		New: func(clk clock.Clock) levee.Gate {
			s, err := shed.NewInFlight(shed.InFlightConfig{Max: 4, Clock: clk})
			if err != nil {
				t.Fatalf("NewInFlight = %v", err)
			}
			return s
		},
		Replenishes:       true,
		ZeroAllocs:        true,
		ZeroAllocRefusals: true,
		Refuse: func(g levee.Gate) (time.Duration, error) {
			// Fill it to CRITICAL's limit, which the suite's calls have:
			// every call is refused until the held ones end, which they
			// never do here.
			s := g.(*shed.InFlight)
			for int64(s.InFlight()) < s.Limit(levee.Critical) {
				if _, err := s.Acquire(context.Background()); err != nil {
					panic(err)
				}
			}
			return 0, levee.ErrShed
		},
	})
}
