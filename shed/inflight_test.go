package shed_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/shed"
)

// TestInFlightShedsLeastCriticalFirst fills the shedder level by level:
// SHEDDABLE stops at Max, SHEDDABLE_PLUS halfway to Headroom·Max, CRITICAL
// at Headroom·Max, and CRITICAL_PLUS never.
func TestInFlightShedsLeastCriticalFirst(t *testing.T) {
	s, err := shed.NewInFlight(shed.InFlightConfig{Max: 4, Headroom: 2, RetryAfter: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := map[levee.Criticality]int64{levee.Sheddable: 4, levee.SheddablePlus: 6, levee.Critical: 8, levee.CriticalPlus: math.MaxInt64}
	for c, w := range want {
		if got := s.Limit(c); got != w {
			t.Errorf("Limit(%v) = %d, want %d", c, got, w)
		}
	}
	ctx := context.Background()
	var held []levee.Permit
	admit := func(c levee.Criticality, n int) {
		t.Helper()
		for i := range n {
			p, err := s.AcquireCriticality(ctx, c)
			if err != nil {
				t.Fatalf("%v call %d with %d in flight refused: %v", c, i+1, s.InFlight(), err)
			}
			held = append(held, p)
		}
	}
	refused := func(c levee.Criticality) {
		t.Helper()
		_, err := s.AcquireCriticality(ctx, c)
		if !errors.Is(err, levee.ErrShed) {
			t.Fatalf("%v call with %d in flight: err = %v, want ErrShed", c, s.InFlight(), err)
		}
		if wait, ok := levee.RetryAfter(err); !ok || wait != 3*time.Second {
			t.Fatalf("refusal's Retry-After = %v, %v; want 3s", wait, ok)
		}
	}
	admit(levee.Sheddable, 4)
	refused(levee.Sheddable)
	admit(levee.SheddablePlus, 2)
	refused(levee.SheddablePlus)
	admit(levee.Critical, 2)
	refused(levee.Critical)
	admit(levee.CriticalPlus, 10)
	if s.InFlight() != 18 {
		t.Fatalf("InFlight = %d, want 18", s.InFlight())
	}
	for _, p := range held {
		p.Done(nil)
	}
	if s.InFlight() != 0 {
		t.Fatalf("after settling: InFlight = %d, want 0", s.InFlight())
	}
	admit(levee.Sheddable, 1)
}

func TestInFlightShedCriticalPlus(t *testing.T) {
	s, err := shed.NewInFlight(shed.InFlightConfig{Max: 3, ShedCriticalPlus: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Limit(levee.CriticalPlus); got != 6 {
		t.Errorf("Limit(CRITICAL_PLUS) = %d, want 6 (Headroom 2 × Max 3)", got)
	}
	if got := s.Limit(levee.Sheddable); got != 3 {
		t.Errorf("Limit(SHEDDABLE) = %d, want 3", got)
	}
}

// TestInFlightSettleOnce: a permit settled twice, or forged, must not free
// a place a call still holds.
func TestInFlightSettleOnce(t *testing.T) {
	s, err := shed.NewInFlight(shed.InFlightConfig{Max: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := levee.WithCriticality(context.Background(), levee.Sheddable)
	first, err := s.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first.Done(nil)
	held, err := s.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first.Done(nil)
	levee.NewPermit(s, 0, 0).Done(nil)
	levee.NewPermit(s, held.Token()+1, 0).Done(nil)
	if got := s.InFlight(); got != 1 {
		t.Fatalf("InFlight = %d after settling a permit twice and forged ones, want 1", got)
	}
	if _, err := s.Acquire(ctx); !errors.Is(err, levee.ErrShed) {
		t.Fatalf("second SHEDDABLE call over Max 1: err = %v, want ErrShed", err)
	}
	held.Done(nil)
	held.Done(nil)
	if got := s.InFlight(); got != 0 {
		t.Fatalf("InFlight = %d after settling the last permit twice, want 0", got)
	}
}

func TestInFlightConfigErrors(t *testing.T) {
	for _, cfg := range []shed.InFlightConfig{
		{}, {Max: -1}, {Max: 1, Headroom: 0.5}, {Max: 1, Headroom: math.NaN()}, {Max: 1, RetryAfter: -1},
	} {
		if _, err := shed.NewInFlight(cfg); err == nil {
			t.Errorf("NewInFlight(%+v) = nil error", cfg)
		}
	}
}

func TestInFlightNoAlloc(t *testing.T) {
	s, _ := shed.NewInFlight(shed.InFlightConfig{Max: 1})
	ctx := levee.WithCriticality(context.Background(), levee.Sheddable)
	p, _ := s.Acquire(ctx)
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := s.Acquire(ctx); err == nil {
			panic("admitted over Max")
		}
	}); n != 0 {
		t.Errorf("refusal: %v allocs, want 0", n)
	}
	p.Done(nil)
	if n := testing.AllocsPerRun(1000, func() {
		p, err := s.Acquire(ctx)
		if err != nil {
			panic(err)
		}
		p.Done(nil)
	}); n != 0 {
		t.Errorf("admission: %v allocs, want 0", n)
	}
}

// With two calls in flight, a SHEDDABLE call is shed while a CRITICAL one
// still gets in.
func ExampleInFlight() {
	s, err := shed.NewInFlight(shed.InFlightConfig{Max: 2})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	p1, _ := s.AcquireCriticality(ctx, levee.Critical)
	p2, _ := s.AcquireCriticality(ctx, levee.Critical)
	_, err = s.AcquireCriticality(ctx, levee.Sheddable)
	fmt.Println("sheddable:", err)
	p3, err := s.AcquireCriticality(ctx, levee.Critical)
	fmt.Println("critical:", err)
	for _, p := range []levee.Permit{p1, p2, p3} {
		p.Done(nil)
	}
	// Output:
	// sheddable: levee: load shed
	// critical: <nil>
}

func BenchmarkInFlight(b *testing.B) {
	s, _ := shed.NewInFlight(shed.InFlightConfig{Max: 1 << 30})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, _ := s.AcquireCriticality(ctx, levee.Sheddable)
			p.Done(nil)
		}
	})
}
