package flags

import (
	"maps"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
)

// Reasons of the [levee.Event]s a [Store] emits, one per flag that a change
// touches (Kind [levee.EventStateChange], Policy "flags", Name the flag's
// key; From and To are the flag's state before and after: "absent",
// "enabled" or "disabled").
const (
	ChangeAdded    = "flag_added"    // the flag appeared
	ChangeRemoved  = "flag_removed"  // the flag disappeared
	ChangeModified = "flag_modified" // the definition changed, the kill switch did not
	ChangeDisabled = "flag_disabled" // the kill switch was turned on
	ChangeEnabled  = "flag_enabled"  // the kill switch was turned off
)

// Config configures a [Store]. The zero value works.
type Config struct {
	// Clock tells the time to progressive rollouts and events. Nil means
	// [clock.Real].
	Clock clock.Clock
}

// Store holds the current [Set] and swaps it at run time: a reload, an
// admin API call or a control plane replaces the set atomically while
// evaluations go on, and each evaluation sees one whole set, the old or the
// new. Every flag a swap adds, removes or changes is reported as an event.
//
// Create one with [New]; the zero Store is an empty store on the real
// clock. A Store is safe for concurrent use; evaluating costs one atomic
// load, one map lookup and no allocation.
type Store struct {
	cur atomic.Pointer[Set]
	clk clock.Clock

	listeners levee.Listeners

	mu       sync.Mutex // serialises writers
	pending  []levee.Event
	draining bool
}

// New returns an empty store.
func New(cfg Config) *Store {
	return &Store{clk: cfg.Clock}
}

func (s *Store) timeSource() clock.Clock { return clock.Or(s.clk) }

// Set returns the current set (never nil).
func (s *Store) Set() *Set {
	if p := s.cur.Load(); p != nil {
		return p
	}
	return emptySet
}

var emptySet = &Set{byKey: map[string]*compiled{}}

// Evaluate evaluates the flag called key in the current set for ec. A
// missing flag resolves with [ReasonError] and [ErrFlagNotFound].
func (s *Store) Evaluate(key string, ec EvaluationContext) Resolution {
	// The lookup is written out here rather than shared with Set: one
	// fewer level copying the 80-byte Resolution measured 40% faster.
	if set := s.cur.Load(); set != nil {
		if c, ok := set.byKey[key]; ok {
			v, reason, rule, err := c.resolve(&ec, s.timeSource(), time.Time{})
			return Resolution{Flag: key, Variant: v.Name, Value: v.Value, Reason: reason, Rule: rule, Err: err}
		}
	}
	return Resolution{Flag: key, Reason: ReasonError, Rule: -1, Err: ErrFlagNotFound}
}

// Bool evaluates a boolean flag and returns its value, or fallback when the
// flag is missing or does not serve a bool.
func (s *Store) Bool(key string, ec EvaluationContext, fallback bool) bool {
	if set := s.cur.Load(); set != nil {
		if c, ok := set.byKey[key]; ok {
			v, _, _, _ := c.resolve(&ec, s.timeSource(), time.Time{})
			if b, ok := v.Value.(bool); ok {
				return b
			}
		}
	}
	return fallback
}

// Replace makes set the current set and reports what changed; nil means an
// empty set. Replacing a set with an identical one reports nothing.
func (s *Store) Replace(set *Set) {
	if set == nil {
		set = emptySet
	}
	s.mu.Lock()
	old := s.Set()
	s.cur.Store(set)
	s.queueDiffLocked(old, set)
	s.mu.Unlock()
	s.flush()
}

// Update builds a set from flags with [NewSet] and makes it current. On an
// error (each bad definition as a [*DefinitionError]) the current set stays.
func (s *Store) Update(flags ...Flag) error {
	set, err := NewSet(flags...)
	if err != nil {
		return err
	}
	s.Replace(set)
	return nil
}

// Put adds f to the current set, or replaces the flag with its key. On an
// error the current set stays.
func (s *Store) Put(f Flag) error {
	c, err := compile(f)
	if err != nil {
		return err
	}
	s.modify(func(m map[string]*compiled) bool { m[c.key] = c; return true })
	return nil
}

// Delete removes the flag called key and reports whether it existed.
func (s *Store) Delete(key string) bool {
	return s.modify(func(m map[string]*compiled) bool {
		_, ok := m[key]
		delete(m, key)
		return ok
	})
}

// SetDisabled turns the kill switch of the flag called key on or off; it
// returns [ErrFlagNotFound] when there is no such flag.
func (s *Store) SetDisabled(key string, disabled bool) error {
	found := s.modify(func(m map[string]*compiled) bool {
		c, ok := m[key]
		if !ok {
			return false
		}
		if c.disabled != disabled {
			n := *c
			n.disabled, n.def.Disabled = disabled, disabled
			m[key] = &n
		}
		return true
	})
	if !found {
		return ErrFlagNotFound
	}
	return nil
}

// modify applies edit to a copy of the current flags and installs the
// result when edit reports a change.
func (s *Store) modify(edit func(map[string]*compiled) bool) bool {
	s.mu.Lock()
	old := s.Set()
	m := maps.Clone(old.byKey)
	if !edit(m) {
		s.mu.Unlock()
		return false
	}
	set := &Set{byKey: m, keys: slices.Sorted(maps.Keys(m))}
	s.cur.Store(set)
	s.queueDiffLocked(old, set)
	s.mu.Unlock()
	s.flush()
	return true
}

// OnEvent registers a listener for the store's events: one per flag a
// change adds, removes or modifies, with a Reason among [ChangeAdded],
// [ChangeRemoved], [ChangeModified], [ChangeDisabled] and [ChangeEnabled].
// Listeners run outside the store's lock, receive events in the order the
// changes were made, and may call any method of the store.
func (s *Store) OnEvent(fn levee.Listener) (remove func()) { return s.listeners.Add(fn) }

func state(c *compiled) string {
	switch {
	case c == nil:
		return "absent"
	case c.disabled:
		return "disabled"
	}
	return "enabled"
}

func (s *Store) queueDiffLocked(old, cur *Set) {
	if !s.listeners.Active() || old == cur {
		return
	}
	now := s.timeSource().Now()
	keys := slices.Sorted(maps.Keys(old.byKey))
	for _, k := range cur.keys {
		if _, ok := old.byKey[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		a, b := old.byKey[k], cur.byKey[k]
		var reason string
		switch {
		case a == b:
			continue
		case a == nil:
			reason = ChangeAdded
		case b == nil:
			reason = ChangeRemoved
		case a.disabled != b.disabled && !b.disabled:
			reason = ChangeEnabled
		case a.disabled != b.disabled:
			reason = ChangeDisabled
		case reflect.DeepEqual(a.def, b.def):
			continue
		default:
			reason = ChangeModified
		}
		s.pending = append(s.pending, levee.Event{Kind: levee.EventStateChange, Policy: "flags", Name: k,
			Time: now, From: state(a), To: state(b), Reason: reason})
	}
}

// flush emits queued events in order, outside the lock. Only one goroutine
// emits at a time; one that finds another emitting leaves its events to it,
// so a listener that changes the store does not deadlock.
func (s *Store) flush() {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return
	}
	s.draining = true
	for len(s.pending) > 0 {
		evs := s.pending
		s.pending = nil
		s.mu.Unlock()
		for _, e := range evs {
			s.listeners.Emit(e)
		}
		s.mu.Lock()
	}
	s.draining = false
	s.mu.Unlock()
}
