package shed_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/shed"
)

// TestPolicyState checks that the state a Shedder reports for metrics is
// the lowest criticality it admits, named as its state-change events name
// it, before and after its shed level moves.
func TestPolicyState(t *testing.T) {
	clk := clocktest.New(time.Time{})
	s := newShedder(t, shed.Config{Name: "api", Window: time.Second, Buckets: 10, Gain: 1, Clock: clk, CoolOff: 500 * ms})
	var changes []levee.Event
	defer s.OnEvent(func(e levee.Event) {
		if e.Kind == levee.EventStateChange {
			changes = append(changes, e)
		}
	})()
	if p, n, st := s.PolicyState(); p != "shed" || n != "api" || st != levee.Sheddable.String() {
		t.Errorf("PolicyState() of a new shedder = %q, %q, %q; want shed, api, %v", p, n, st, levee.Sheddable)
	}
	train(t, s, clk)
	ctx := context.Background()
	for range 3 { // estimate 2: over it
		if _, err := s.AcquireCriticality(ctx, levee.Critical); err != nil {
			t.Fatalf("AcquireCriticality(CRITICAL) under the estimate = %v, want nil", err)
		}
	}
	if _, err := s.AcquireCriticality(ctx, levee.Sheddable); !errors.Is(err, levee.ErrShed) {
		t.Fatalf("AcquireCriticality(SHEDDABLE) over the estimate = %v, want ErrShed", err)
	}
	// The next call above the shed level finds it overloaded: SHEDDABLE is
	// now shed outright.
	if _, err := s.AcquireCriticality(ctx, levee.Critical); err != nil {
		t.Fatalf("AcquireCriticality(CRITICAL) in the headroom = %v, want nil", err)
	}
	if len(changes) != 1 {
		t.Fatalf("state changes = %+v, want one", changes)
	}
	e := changes[0]
	if p, n, st := s.PolicyState(); p != e.Policy || n != e.Name || st != e.To || st != levee.SheddablePlus.String() {
		t.Errorf("PolicyState() after the level rose = %q, %q, %q; want the event's %q, %q, %q (%v)",
			p, n, st, e.Policy, e.Name, e.To, levee.SheddablePlus)
	}
	var zero shed.Shedder
	if p, n, st := zero.PolicyState(); p != "shed" || n != "" || st != levee.Sheddable.String() {
		t.Errorf("PolicyState() of the zero Shedder = %q, %q, %q; want shed, \"\", %v", p, n, st, levee.Sheddable)
	}
}
