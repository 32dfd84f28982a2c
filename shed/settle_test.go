package shed_test

import (
	"context"
	"testing"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/shed"
)

// TestSettleOnce: a permit settled twice, or forged, must not free a place
// a call still holds.
func TestSettleOnce(t *testing.T) {
	s, err := shed.New(shed.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first, err := s.Acquire(ctx)
	if err != nil {
		t.Fatalf("Acquire() = %v, want admission", err)
	}
	first.Done(nil)
	held, err := s.Acquire(ctx)
	if err != nil {
		t.Fatalf("Acquire() = %v, want admission", err)
	}
	first.Done(nil)
	levee.NewPermit(s, 0, 0).Done(nil)
	levee.NewPermit(s, held.Token()+1, 0).Done(nil)
	if got := s.Stat().InFlight; got != 1 {
		t.Fatalf("Stat().InFlight = %d after settling a permit twice and forged ones, want 1", got)
	}
	held.Done(nil)
	held.Done(nil)
	if got := s.Stat().InFlight; got != 0 {
		t.Fatalf("Stat().InFlight = %d after settling the last permit twice, want 0", got)
	}
}
