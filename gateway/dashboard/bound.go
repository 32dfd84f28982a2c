package dashboard

import (
	"encoding/json"
	"slices"
)

// encode cuts s to the caps and encodes it; while the encoding is longer
// than Caps.Bytes, it cuts again with every cap halved.
func (d *Dashboard) encode(s *Snapshot) ([]byte, error) {
	c := d.caps
	for {
		bound(s, c)
		data, err := json.Marshal(s)
		if err != nil || len(data) <= c.Bytes || c.halve() {
			return data, err
		}
		s.Truncated = append(s.Truncated[:0], "bytes")
	}
}

// halve halves every list cap (not below one), and reports whether they
// were all one already.
func (c *Caps) halve() bool {
	done := true
	for _, v := range []*int{&c.Routes, &c.Upstreams, &c.Targets, &c.Transitions, &c.Counts, &c.SLOs, &c.History} {
		if *v > 1 {
			*v /= 2
			done = false
		}
	}
	return done
}

// bound cuts the lists of s to the caps c and names each kind of list it
// cut once ("routes[].refusals" for the refusals of any route), so that
// Truncated stays short too.
func bound(s *Snapshot, c Caps) {
	note := func(cut bool, list string) {
		if cut && !slices.Contains(s.Truncated, list) {
			s.Truncated = append(s.Truncated, list)
		}
	}
	var cut bool
	s.Routes, cut = trim(s.Routes, c.Routes)
	note(cut, "routes")
	for i := range s.Routes {
		r := &s.Routes[i]
		r.Refusals, cut = trim(r.Refusals, c.Counts)
		note(cut, "routes[].refusals")
	}
	s.Upstreams, cut = trim(s.Upstreams, c.Upstreams)
	note(cut, "upstreams")
	for i := range s.Upstreams {
		u := &s.Upstreams[i]
		u.Targets, cut = trim(u.Targets, c.Targets)
		note(cut, "upstreams[].targets")
		note(latest(u.Breaker, c.Transitions), "upstreams[].breaker.transitions")
		for j := range u.Targets {
			t := &u.Targets[j]
			note(latest(t.Breaker, c.Transitions), "upstreams[].targets[].breaker.transitions")
		}
	}
	s.Limits, cut = trim(s.Limits, 2*c.Routes) // a rate and a concurrency limit per route
	note(cut, "limits")
	for i := range s.Limits {
		l := &s.Limits[i]
		l.TopKeys, cut = trim(l.TopKeys, c.Counts)
		note(cut, "limits[].top_keys")
	}
	s.Overload, cut = trim(s.Overload, c.Routes)
	note(cut, "overload")
	for i := range s.Overload {
		o := &s.Overload[i]
		o.Shed, cut = trim(o.Shed, c.Counts)
		note(cut, "overload[].shed")
	}
	s.SLOs, cut = trim(s.SLOs, c.SLOs)
	note(cut, "slos")
	for i := range s.SLOs {
		o := &s.SLOs[i]
		o.Burn, cut = trim(o.Burn, c.Counts)
		note(cut, "slos[].burn")
		o.Firing, cut = trim(o.Firing, c.Counts)
		note(cut, "slos[].firing")
	}
	if s.Config != nil {
		s.Config.History, cut = trim(s.Config.History, c.History)
		note(cut, "config.history")
	}
}

// trim keeps the first limit entries of list, and says whether it cut.
func trim[T any](list []T, limit int) ([]T, bool) {
	if len(list) > limit {
		return list[:limit], true
	}
	return list, false
}

// latest keeps the latest limit transitions of b, and says whether it cut.
func latest(b *Breaker, limit int) bool {
	if b == nil || len(b.Transitions) <= limit {
		return false
	}
	b.Transitions = b.Transitions[len(b.Transitions)-limit:]
	return true
}
