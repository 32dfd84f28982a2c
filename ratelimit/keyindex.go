package ratelimit

import "hash/maphash"

// keyIndex maps a key's hash to its slot in a shard: an open-addressing
// table with linear probing of 8-byte entries, (tag << 32) | (slot + 1),
// where tag is the upper half of the key's 64-bit hash and 0 marks an empty
// entry. It holds no pointers (the garbage collector skips it) and costs
// 8 bytes per entry at a load factor between 3/8 and 3/4, against about 40
// bytes per key for a map[string]uint32 with its growth slack. The caller
// compares keys (the tag only filters) and serialises writes.
type keyIndex struct {
	table []uint64
	n     int // entries in use
}

// tagOf returns the part of hash the index keeps; the shard is chosen by
// the lower bits, so the two are independent.
func tagOf(hash uint64) uint32 { return uint32(hash >> 32) }

// find returns the table position and slot of key (whose tag is tag), or ok
// false.
func (x *keyIndex) find(tag uint32, key string, slots []slot) (pos int, slot uint32, ok bool) {
	if len(x.table) == 0 {
		return 0, 0, false
	}
	mask := len(x.table) - 1
	for i := int(tag) & mask; ; i = (i + 1) & mask {
		e := x.table[i]
		if e == 0 {
			return 0, 0, false
		}
		if uint32(e>>32) == tag && slots[uint32(e)-1].key == key {
			return i, uint32(e) - 1, true
		}
	}
}

// insert adds slot under tag. Growing rehashes the keys of slots with seed.
func (x *keyIndex) insert(tag uint32, slot uint32, slots []slot, seed maphash.Seed) {
	if (x.n+1)*4 > len(x.table)*3 {
		x.resize(max(len(x.table)*2, 8), slots, seed)
	}
	x.put(tag, slot)
	x.n++
}

func (x *keyIndex) put(tag uint32, slot uint32) {
	mask := len(x.table) - 1
	i := int(tag) & mask
	for x.table[i] != 0 {
		i = (i + 1) & mask
	}
	x.table[i] = uint64(tag)<<32 | uint64(slot+1)
}

// resize rebuilds the table with size entries (a power of two) from the
// slots currently indexed.
func (x *keyIndex) resize(size int, slots []slot, seed maphash.Seed) {
	old := x.table
	x.table = make([]uint64, size)
	for _, e := range old {
		if e != 0 {
			s := uint32(e) - 1
			x.put(tagOf(maphash.String(seed, slots[s].key)), s)
		}
	}
}

// setSlot points the entry at pos to another slot (after a slot moved).
func (x *keyIndex) setSlot(pos int, slot uint32) {
	x.table[pos] = x.table[pos]&^(1<<32-1) | uint64(slot+1)
}

// deleteAt empties position i and shifts later entries of the same probe
// run back, so that lookups never need tombstones.
func (x *keyIndex) deleteAt(i int) {
	mask := len(x.table) - 1
	j := i
	for {
		x.table[i] = 0
		for {
			j = (j + 1) & mask
			e := x.table[j]
			if e == 0 {
				x.n--
				return
			}
			home := int(uint32(e>>32)) & mask
			// e stays if its home lies cyclically in (i, j].
			if i <= j {
				if i < home && home <= j {
					continue
				}
			} else if i < home || home <= j {
				continue
			}
			x.table[i] = e
			i = j
			break
		}
	}
}
