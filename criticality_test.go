package levee_test

import (
	"context"
	"testing"

	"github.com/levee-go/levee"
)

// TestCriticalityOrder: the constants compare in rank order, and the zero
// value is an explicit "unset" that resolves to CRITICAL.
func TestCriticalityOrder(t *testing.T) {
	order := []levee.Criticality{levee.Sheddable, levee.SheddablePlus, levee.Critical, levee.CriticalPlus}
	for i := 1; i < len(order); i++ {
		if !(order[i-1] < order[i]) || order[i-1].Rank() >= order[i].Rank() {
			t.Errorf("%v < %v = false, want true (constants in rank order)", order[i-1], order[i])
		}
	}
	var zero levee.Criticality
	if zero != levee.CriticalityUnset {
		t.Errorf("zero Criticality = %v, want CriticalityUnset", zero)
	}
	if zero.String() != "UNSET" {
		t.Errorf("CriticalityUnset.String() = %q, want UNSET", zero.String())
	}
	if zero.Rank() != levee.Critical.Rank() {
		t.Errorf("CriticalityUnset.Rank() = %d, want CRITICAL's %d", zero.Rank(), levee.Critical.Rank())
	}
	tests := []struct {
		name string
		ctx  context.Context
		want levee.Criticality
	}{
		{name: "empty context", ctx: context.Background(), want: levee.Critical},
		{name: "unset carried", ctx: levee.WithCriticality(context.Background(), levee.CriticalityUnset), want: levee.Critical},
		{name: "sheddable carried", ctx: levee.WithCriticality(context.Background(), levee.Sheddable), want: levee.Sheddable},
		{name: "out of range carried", ctx: levee.WithCriticality(context.Background(), 200), want: levee.Critical},
	}
	for _, tt := range tests {
		if got := levee.CriticalityFrom(tt.ctx); got != tt.want {
			t.Errorf("CriticalityFrom(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
	for _, s := range []string{"", "unset", "urgent"} {
		if got, ok := levee.ParseCriticality(s); ok || got != levee.CriticalityUnset {
			t.Errorf("ParseCriticality(%q) = %v, %v, want UNSET, false", s, got, ok)
		}
	}
}
