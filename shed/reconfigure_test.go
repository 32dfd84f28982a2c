package shed_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/internal/conformance"
	"github.com/levee-go/levee/shed"
)

func TestInFlightReconfigure(t *testing.T) {
	s, err := shed.NewInFlight(shed.InFlightConfig{Name: "edge", Max: 4, RetryAfter: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := levee.WithCriticality(context.Background(), levee.Sheddable)
	var held []levee.Permit
	for range 3 {
		p, err := s.Acquire(ctx)
		if err != nil {
			t.Fatalf("Acquire = %v", err)
		}
		held = append(held, p)
	}
	for _, tt := range []struct {
		cfg   shed.InFlightConfig
		field string
	}{
		{shed.InFlightConfig{Max: 0}, "Max"},
		{shed.InFlightConfig{Max: 2, Headroom: 0.5}, "Headroom"},
		{shed.InFlightConfig{Max: 2, Name: "other"}, "Name"},
		{shed.InFlightConfig{Max: 2, Clock: clocktest.New(time.Time{})}, "Clock"},
	} {
		if err := s.Reconfigure(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("Reconfigure(%+v) = %v, want an error naming %s", tt.cfg, err, tt.field)
		}
	}
	if got := s.Limit(levee.Sheddable); got != 4 {
		t.Fatalf("Limit(SHEDDABLE) after refused Reconfigures = %d, want 4 (untouched)", got)
	}
	if err := s.Reconfigure(shed.InFlightConfig{Max: 2, RetryAfter: 5 * time.Second}); err != nil {
		t.Fatalf("Reconfigure = %v", err)
	}
	if s.InFlight() != 3 || s.Limit(levee.Sheddable) != 2 || s.Limit(levee.Critical) != 4 {
		t.Fatalf("after Reconfigure to Max 2: %d in flight, limits %d and %d; want 3 kept, 2 and 4",
			s.InFlight(), s.Limit(levee.Sheddable), s.Limit(levee.Critical))
	}
	_, err = s.Acquire(ctx)
	if wait, ok := levee.RetryAfter(err); !ok || wait != 5*time.Second {
		t.Errorf("Acquire over the new Max = %v (Retry-After %v), want a refusal with the new 5s", err, wait)
	}
	for _, p := range held {
		p.Done(nil)
		p.Done(nil)
	}
	if s.InFlight() != 0 {
		t.Errorf("InFlight() after every permit settled (twice) = %d, want 0", s.InFlight())
	}
}

func TestInFlightReconfigureDuringTraffic(t *testing.T) {
	s, err := shed.NewInFlight(shed.InFlightConfig{Max: 4})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				if p, err := s.Acquire(context.Background()); err == nil {
					p.Done(nil)
					p.Done(nil)
				}
			}
		})
	}
	for i := range 200 {
		if err := s.Reconfigure(shed.InFlightConfig{Max: 1 + i%4, RetryAfter: time.Duration(1+i%3) * time.Second}); err != nil {
			t.Fatalf("Reconfigure = %v", err)
		}
	}
	wg.Wait()
	if s.InFlight() != 0 {
		t.Errorf("InFlight() after the traffic = %d, want 0", s.InFlight())
	}
}

func TestInFlightReconfigureSettleOnce(t *testing.T) {
	conformance.SettleOnceAcrossReconfigure(t, func(clk clock.Clock) levee.Gate {
		s, err := shed.NewInFlight(shed.InFlightConfig{Max: 4, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, nil, func(g levee.Gate) error {
		return g.(*shed.InFlight).Reconfigure(shed.InFlightConfig{Max: 4})
	})
}
