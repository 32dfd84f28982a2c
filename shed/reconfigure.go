package shed

import "fmt"

// Reconfigure applies cfg to the running shedder, after validating the
// whole of it as [NewInFlight] does (zero fields take the same defaults);
// on an error, which names the field, nothing changes. The calls in flight
// keep their places and their permits: a lower Max sheds new calls until
// enough of them end. Each level's limit changes atomically; a call
// admitted concurrently with the change is judged by its level's old limit
// or its new one. Name and Clock cannot change: zero (or nil) means "as
// now", another value is an error.
func (s *InFlight) Reconfigure(cfg InFlightConfig) error {
	switch {
	case s.clk == nil:
		return fmt.Errorf("shed: InFlight not made by NewInFlight")
	case cfg.Name != "" && cfg.Name != s.name:
		return fmt.Errorf("shed: InFlightConfig.Name = %q, cannot change at run time (it is %q)", cfg.Name, s.name)
	case cfg.Clock != nil && cfg.Clock != s.clk:
		return fmt.Errorf("shed: InFlightConfig.Clock cannot change at run time")
	}
	cfg.Name, cfg.Clock = s.name, s.clk
	n, err := NewInFlight(cfg) // validates, and computes the limits
	if err != nil {
		return err
	}
	s.rejection.Store(n.rejection.Load())
	for rank := range s.limits {
		s.limits[rank].Store(n.limits[rank].Load())
	}
	return nil
}
