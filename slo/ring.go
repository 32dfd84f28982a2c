package slo

import (
	"sync"
	"sync/atomic"
)

// ring counts good and total events in fixed-width time buckets over a
// rolling window. Its memory is fixed at construction: one uint64 per bucket,
// whatever the traffic.
//
// Each bucket packs two 32-bit counters into one word, good in the high half
// and total in the low half, so recording an event is a single atomic add:
// goodInc (1<<32 | 1) for a good event, 1 for a bad one. A bucket holds at
// most 2^32-1 events; more would carry the total into the good count.
//
// cur is the number of the newest bucket (time / width). Recording into the
// current bucket or a recent one touches only that bucket's word. Moving into
// a new bucket zeroes the buckets skipped over under mu, then publishes the
// new cur; adders only ever write to buckets numbered at most cur, which the
// advance has already cleared, so no increment is lost to a reset.
type ring struct {
	width   int64 // bucket width in nanoseconds
	n       int64 // number of buckets
	cur     atomic.Int64
	mu      sync.Mutex
	buckets []atomic.Uint64
}

const (
	goodInc  = 1<<32 | 1
	totalInc = 1
	lowMask  = 1<<32 - 1
)

func newRing(width, n, now int64) *ring {
	r := &ring{width: width, n: n, buckets: make([]atomic.Uint64, n)}
	r.cur.Store(floorDiv(now, width))
	return r
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func (r *ring) slot(b int64) int64 {
	s := b % r.n
	if s < 0 {
		s += r.n
	}
	return s
}

// add counts one event at nanotime now.
func (r *ring) add(now int64, good bool) {
	b := floorDiv(now, r.width)
	c := r.cur.Load()
	if b > c {
		r.advance(b)
	} else if b <= c-r.n {
		return // older than the window: it would land in a reused bucket
	}
	var inc uint64 = totalInc
	if good {
		inc = goodInc
	}
	r.buckets[r.slot(b)].Add(inc)
}

// advance makes b the newest bucket, zeroing the buckets in between.
func (r *ring) advance(b int64) {
	r.mu.Lock()
	c := r.cur.Load()
	if b > c {
		from := c + 1
		if b-from >= r.n {
			from = b - r.n + 1
		}
		for i := from; i <= b; i++ {
			r.buckets[r.slot(i)].Store(0)
		}
		r.cur.Store(b)
	}
	r.mu.Unlock()
}

// Counts are the events a window holds.
type Counts struct {
	// Good is the number of good events, Total the number of counted
	// events (good and bad; ignored outcomes are never counted).
	Good, Total uint64
}

// Bad returns Total − Good.
func (c Counts) Bad() uint64 { return c.Total - c.Good }

func unpack(v uint64) Counts { return Counts{Good: v >> 32, Total: v & lowMask} }

// sums fills out[i] with the counts of the newest spans[i] buckets at
// nanotime now (the current, partly filled bucket counts as one). Spans must
// be positive; spans longer than the ring are cut to it. One pass over the
// longest span serves every span: a running suffix sum is read off at each
// span's length.
func (r *ring) sums(now int64, spans []int64, out []Counts) {
	r.advance(floorDiv(now, r.width))
	c := r.cur.Load()
	var longest int64
	for _, s := range spans {
		longest = max(longest, min(s, r.n))
	}
	var acc Counts
	for k := int64(1); k <= longest; k++ {
		v := unpack(r.buckets[r.slot(c-k+1)].Load())
		acc.Good += v.Good
		acc.Total += v.Total
		for i, s := range spans {
			if min(s, r.n) == k {
				out[i] = acc
			}
		}
	}
}

// sum returns the counts of the newest span buckets at now.
func (r *ring) sum(now, span int64) Counts {
	var out [1]Counts
	r.sums(now, []int64{span}, out[:])
	return out[0]
}

// mark remembers one bucket's count so that [ring.since] can report the
// events recorded after the mark exactly, not to a bucket's width.
type mark struct {
	bucket int64
	value  Counts
}

func (r *ring) mark(now int64) mark {
	b := floorDiv(now, r.width)
	r.advance(b)
	return mark{bucket: b, value: unpack(r.buckets[r.slot(b)].Load())}
}

// since returns the events recorded after m up to now. It is exact while
// now is less than a window after the mark; older marks count what the
// window still holds.
func (r *ring) since(now int64, m mark) Counts {
	r.advance(floorDiv(now, r.width))
	c := r.cur.Load()
	var acc Counts
	from := max(m.bucket, c-r.n+1)
	for b := from; b <= c; b++ {
		v := unpack(r.buckets[r.slot(b)].Load())
		if b == m.bucket {
			v.Good -= min(v.Good, m.value.Good)
			v.Total -= min(v.Total, m.value.Total)
		}
		acc.Good += v.Good
		acc.Total += v.Total
	}
	return acc
}
