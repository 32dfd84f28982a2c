package concurrency

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/levee-go/levee"
)

// DefaultMaxKeys is the number of keys a [Keyed] holds at once when
// [KeyedConfig.MaxKeys] is zero.
const DefaultMaxKeys = 10_000

// KeyGate is what a [Keyed] holds for each key: a concurrency gate that
// reports how many calls it has in flight and waiting, so that Keyed can
// tell an idle key (nothing in flight, nothing queued), which it may drop
// without losing anything. [Bulkhead] and [Limiter] are KeyGates.
type KeyGate interface {
	levee.Gate
	InFlight() int
	Queued() int
}

// KeyedConfig configures a [Keyed]. The zero value gives every key a
// [Bulkhead] of [DefaultMaxConcurrent] slots, for at most [DefaultMaxKeys]
// keys.
type KeyedConfig struct {
	// Name labels the refusals Keyed makes itself (no room for a new key).
	Name string
	// Bulkhead configures each key's bulkhead when New is nil.
	Bulkhead BulkheadConfig
	// New makes the gate of a key the first time the key is seen, or again
	// after it was dropped while idle. Nil means a [Bulkhead] configured by
	// Bulkhead. It is called under the write lock of the key's shard, once
	// per insertion. A key dropped while idle starts again from a new gate,
	// so an adaptive [Limiter] per key relearns its limit from its initial
	// one after its key was idle and dropped.
	New func(key string) (KeyGate, error)
	// MaxKeys bounds the keys held at once. When a new key finds its shard
	// full, an idle key of the shard is dropped to make room; when every key
	// of the shard is busy, the call is refused with
	// [levee.ErrBulkheadFull] (event reason "keys"): a flood of new keys
	// cannot take the memory or the capacity of the keys in use. Zero
	// means [DefaultMaxKeys]; negative is refused.
	MaxKeys int
	// Shards is the number of independently locked parts of the key table,
	// rounded up to a power of two and at most MaxKeys. Zero means 16;
	// negative or above 65536 is refused.
	Shards int
}

// Keyed is a concurrency limit per key — a tenant, a client address, a
// route — so that one key's flood cannot take another key's capacity: each
// key has a gate of its own (a [Bulkhead] by default, or any [KeyGate]),
// made when the key is first seen.
//
// Memory is bounded by [KeyedConfig.MaxKeys]. A key whose gate is idle
// (nothing in flight or queued) holds no state worth keeping, so it is
// dropped when its shard needs room, or by [Keyed.Sweep]; a busy key is
// never dropped, so a key's limit holds for as long as it has calls.
//
// [Keyed.AcquireKey] for a key already held takes its shard's read lock,
// two atomic additions and the gate's own admission (one compare-and-swap
// for a bulkhead), and does not allocate; the permit settles with the
// key's gate directly. A new key takes its shard's write lock once and
// allocates its gate. Keyed implements [levee.KeyedGate] and is safe for
// concurrent use.
type Keyed struct {
	name     string
	newGate  func(key string) (KeyGate, error)
	shards   []keyedShard
	mask     uint64
	perShard int
	seed     maphash.Seed

	listeners levee.Listeners
}

type keyedShard struct {
	mu   sync.RWMutex
	keys map[string]*keyedEntry
	_    [40]byte // keeps shards' locks on separate cache lines
}

// keyedEntry is a key's gate. pins counts the callers between finding the
// entry and the end of their Acquire: they are counted in under the
// shard's read lock, so a dropper holding the write lock sees every caller
// that could still enter the gate.
type keyedEntry struct {
	gate KeyGate
	pins atomic.Int64
}

// NewKeyed returns a keyed concurrency limit configured by cfg, or an error
// naming the first invalid field.
func NewKeyed(cfg KeyedConfig) (*Keyed, error) {
	switch {
	case cfg.MaxKeys < 0:
		return nil, fmt.Errorf("concurrency: KeyedConfig.MaxKeys = %d, want >= 0 (0 means %d)", cfg.MaxKeys, DefaultMaxKeys)
	case cfg.Shards < 0 || cfg.Shards > 1<<16:
		return nil, fmt.Errorf("concurrency: KeyedConfig.Shards = %d, want 0 to 65536 (0 means 16)", cfg.Shards)
	}
	newGate := cfg.New
	if newGate == nil {
		// Check the bulkhead configuration now, not at the first key.
		if _, err := NewBulkhead(cfg.Bulkhead); err != nil {
			return nil, fmt.Errorf("concurrency: KeyedConfig.Bulkhead: %w", err)
		}
		bc := cfg.Bulkhead
		newGate = func(string) (KeyGate, error) { return NewBulkhead(bc) }
	}
	maxKeys := cfg.MaxKeys
	if maxKeys == 0 {
		maxKeys = DefaultMaxKeys
	}
	n := cfg.Shards
	if n == 0 {
		n = 16
	}
	n = min(n, maxKeys)
	shards := 1
	for shards < n {
		shards <<= 1
	}
	if shards > maxKeys { // rounding up passed the bound: round down instead
		shards >>= 1
	}
	k := &Keyed{
		name:     cfg.Name,
		newGate:  newGate,
		shards:   make([]keyedShard, shards),
		mask:     uint64(shards - 1),
		perShard: maxKeys / shards,
		seed:     maphash.MakeSeed(),
	}
	for i := range k.shards {
		k.shards[i].keys = map[string]*keyedEntry{}
	}
	return k, nil
}

// Stage returns [levee.StageConcurrency].
func (k *Keyed) Stage() levee.Stage { return levee.StageConcurrency }

// OnEvent registers a listener for the refusals Keyed makes itself:
// [levee.EventRejected] with Reason "keys" when a new key finds no room.
// The keys' own gates report their refusals to their own listeners.
func (k *Keyed) OnEvent(fn levee.Listener) (remove func()) { return k.listeners.Add(fn) }

// AcquireKey admits a call for key through the key's gate, making the gate
// if the key is new. A refusal is the gate's (for a bulkhead,
// [levee.ErrBulkheadFull]), or [levee.ErrBulkheadFull] when the key is new
// and every key of its shard is busy; an error from [KeyedConfig.New] is
// returned as it is. An admitted call must settle its permit exactly once.
func (k *Keyed) AcquireKey(ctx context.Context, key string) (levee.Permit, error) {
	s := &k.shards[maphash.String(k.seed, key)&k.mask]
	s.mu.RLock()
	e := s.keys[key]
	if e != nil {
		e.pins.Add(1)
	}
	s.mu.RUnlock()
	if e == nil {
		var err error
		if e, err = k.insert(s, key); err != nil {
			return levee.Permit{}, err
		}
	}
	p, err := e.gate.Acquire(ctx)
	e.pins.Add(-1)
	return p, err
}

// insert finds or makes key's entry, pinned, under the shard's write lock.
func (k *Keyed) insert(s *keyedShard, key string) (*keyedEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.keys[key]; e != nil { // another caller made it meanwhile
		e.pins.Add(1)
		return e, nil
	}
	if len(s.keys) >= k.perShard && !dropIdle(s, 8) {
		if k.listeners.Active() {
			k.listeners.Emit(levee.Event{Kind: levee.EventRejected, Policy: "bulkhead", Name: k.name,
				Reason: "keys", Value: float64(len(s.keys)), Threshold: float64(k.perShard), Err: levee.ErrBulkheadFull})
		}
		return nil, levee.ErrBulkheadFull
	}
	g, err := k.newGate(key)
	if err != nil {
		return nil, err
	}
	e := &keyedEntry{gate: g}
	e.pins.Add(1)
	s.keys[key] = e
	return e, nil
}

// dropIdle drops one idle key among the first limit the map's random order
// yields (all of them when limit is negative) and reports whether it did.
// The caller holds the shard's write lock.
func dropIdle(s *keyedShard, limit int) bool {
	for key, e := range s.keys {
		if idle(e) {
			delete(s.keys, key)
			return true
		}
		if limit--; limit == 0 {
			break
		}
	}
	return false
}

// idle reports whether e may be dropped: nobody is entering its gate and
// it has nothing in flight or queued. The caller holds the write lock.
func idle(e *keyedEntry) bool {
	return e.pins.Load() == 0 && e.gate.InFlight() == 0 && e.gate.Queued() == 0
}

// Sweep drops every idle key and returns how many it dropped. Keys are
// also dropped as shards need room, so calling Sweep is only needed to
// give memory back after a burst of keys.
func (k *Keyed) Sweep() int {
	n := 0
	for i := range k.shards {
		s := &k.shards[i]
		s.mu.Lock()
		for key, e := range s.keys {
			if idle(e) {
				delete(s.keys, key)
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}

// Len returns the number of keys held.
func (k *Keyed) Len() int {
	n := 0
	for i := range k.shards {
		s := &k.shards[i]
		s.mu.RLock()
		n += len(s.keys)
		s.mu.RUnlock()
	}
	return n
}

// Gate returns the gate of key, or nil when the key is not held; for
// reading its state (InFlight, Limit) in metrics and tests.
func (k *Keyed) Gate(key string) KeyGate {
	s := &k.shards[maphash.String(k.seed, key)&k.mask]
	s.mu.RLock()
	defer s.mu.RUnlock()
	if e := s.keys[key]; e != nil {
		return e.gate
	}
	return nil
}

var (
	_ levee.KeyedGate = (*Keyed)(nil)
	_ KeyGate         = (*Bulkhead)(nil)
	_ KeyGate         = (*Limiter)(nil)
)
