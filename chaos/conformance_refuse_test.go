package chaos_test

import (
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/chaos"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/internal/conformance"
)

// TestRefusalConformance checks an injector that injects a rejection into
// every call, as a test of the callers' handling of refusals does: it must
// refuse like a real gate, at once and without allocating.
func TestRefusalConformance(t *testing.T) {
	conformance.TestGate(t, conformance.Gate{
		New: func(clk clock.Clock) levee.Gate {
			return newInjector(t, chaos.Config{Clock: clk})
		},
		Replenishes:       true,
		ZeroAllocs:        true,
		ZeroAllocRefusals: true,
		Refuse: func(g levee.Gate) (time.Duration, error) {
			if err := g.(*chaos.Injector).Set(chaos.Error(100, levee.ErrShed)); err != nil {
				panic(err)
			}
			return 0, levee.ErrShed
		},
	})
}
