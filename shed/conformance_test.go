package shed_test

import (
	"testing"

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
