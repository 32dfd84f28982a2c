// Package settle keeps the table of permits a gate has issued and not yet
// had settled, so that a gate frees a slot once per admission however
// often, and with whatever token, its permit is settled.
//
// A gate claims a slot of its [Table] when it admits a call and puts the
// token [Table.Claim] returns in the [levee.Permit]; when the permit is
// settled it calls [Table.Settle] with the permit's token and frees the
// call's capacity only when Settle reports true. A token names a slot and
// the slot's generation: settling it moves the generation on, so a second
// settle of the same permit, a settle of a permit from an earlier
// admission of the same slot, and a forged token all find a generation
// that does not match and are refused.
//
// Claim and Settle are each one compare-and-swap on the slot, take no lock and allocate
// nothing, except when the table grows: it keeps at least twice as many
// slots as the gate says it has outstanding permits, so that a search
// finds a free slot in about two probes.
package settle

import (
	"sync"
	"sync/atomic"
)

// chunkBits sets the slots in a chunk: chunks never move once allocated,
// so a token stays valid while the table grows.
const (
	chunkBits = 6
	chunkSize = 1 << chunkBits
	chunkMask = chunkSize - 1
)

type slot struct {
	// gen is even while the slot is free and odd while a permit holds it;
	// claiming and settling each add one.
	gen atomic.Uint32
	aux atomic.Uint64
}

type chunk [chunkSize]slot

// Table is a set of slots claimed at admission and settled once. The zero
// value is an empty table ready for use; it grows as needed. A Table must
// not be copied after first use.
type Table struct {
	dir atomic.Pointer[[]*chunk]
	mu  sync.Mutex // serialises growth
}

// Claim takes a free slot, stores aux in it for [Table.Settle] to return,
// and returns the slot's token. outstanding is how many permits the gate
// has admitted and not settled, this one included (an upper bound will
// do): the table grows to keep at least twice as many slots.
func (t *Table) Claim(aux uint64, outstanding int64) uint64 {
	for {
		dir := t.dir.Load()
		var n int
		if dir != nil {
			n = len(*dir) * chunkSize
		}
		if int64(n) < 2*outstanding || n == 0 {
			t.grow(2 * max(outstanding, 1))
			continue
		}
		// Start where the outstanding count hashes to: callers admitted
		// at once hold different counts, so they start apart, and a
		// gate that admits and settles one call at a time finds the
		// slot it just freed. The table holds a power of two slots, so
		// wrapping round is a mask, not a division.
		mask := uint64(n - 1)
		start := uint64(outstanding) * 0x9E3779B97F4A7C15 >> 32
		for i := range uint64(n) {
			idx := (start + i) & mask
			s := &(*dir)[idx>>chunkBits][idx&chunkMask]
			g := s.gen.Load()
			if g&1 == 0 && s.gen.CompareAndSwap(g, g+1) {
				// The slot is ours alone until settled; skip the store
				// (a full barrier) when aux is already right.
				if s.aux.Load() != aux {
					s.aux.Store(aux)
				}
				return uint64(g+1)<<32 | idx
			}
		}
		// Every slot was taken while we looked: the caller understated
		// what is outstanding. Grow and look again.
		t.grow(int64(n) + chunkSize)
	}
}

// grow makes the table hold at least n slots.
func (t *Table) grow(n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var old []*chunk
	if d := t.dir.Load(); d != nil {
		old = *d
	}
	want := 1 // chunks: a power of two, so that slots are too
	for int64(want)*chunkSize < n {
		want *= 2
	}
	if len(old) >= want {
		return
	}
	dir := make([]*chunk, want)
	copy(dir, old)
	for i := len(old); i < want; i++ {
		dir[i] = new(chunk)
	}
	t.dir.Store(&dir)
}

// Settle frees the slot token names and returns the aux value its claim
// stored, if token is the slot's current claim. It returns false, and
// changes nothing, for a token already settled, a token of an earlier
// claim of the slot, or one the table never issued.
func (t *Table) Settle(token uint64) (aux uint64, ok bool) {
	g := uint32(token >> 32)
	if g&1 == 0 {
		return 0, false
	}
	idx := token & 0xFFFFFFFF
	dir := t.dir.Load()
	if dir == nil || idx >= uint64(len(*dir))*chunkSize {
		return 0, false
	}
	s := &(*dir)[idx>>chunkBits][idx&chunkMask]
	if s.gen.Load() != g {
		return 0, false
	}
	aux = s.aux.Load()
	if !s.gen.CompareAndSwap(g, g+1) {
		return 0, false
	}
	return aux, true
}

// Held reports whether token is a claim not yet settled.
func (t *Table) Held(token uint64) bool {
	g := uint32(token >> 32)
	idx := token & 0xFFFFFFFF
	dir := t.dir.Load()
	if g&1 == 0 || dir == nil || idx >= uint64(len(*dir))*chunkSize {
		return false
	}
	return (*dir)[idx>>chunkBits][idx&chunkMask].gen.Load() == g
}
