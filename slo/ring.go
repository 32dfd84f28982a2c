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
// head is the newest bucket. Recording into the current bucket or a recent
// one touches only that bucket's word. Moving into a new bucket zeroes the
// buckets skipped over under mu, then publishes the new head; adders only
// ever write to buckets numbered at most head's, which the advance has
// already cleared, so no increment is lost to a reset. (The one exception
// needs a record stamped a whole window before a concurrent bucket change:
// it may be counted in the new bucket instead of being dropped. Records
// stamped with the clock's current time never are.) A bucket change
// allocates the new head, 24 bytes, never more than once per bucket width.
type ring struct {
	width   int64 // bucket width in nanoseconds
	n       int64 // number of buckets
	head    atomic.Pointer[head]
	mu      sync.Mutex
	expired Counts // events of buckets that left the window; guarded by mu
	buckets []atomic.Uint64
}

// head describes the newest bucket. It is replaced, never modified, when
// time moves into a new bucket (once per bucket width at most), so that
// recording into the current bucket needs one pointer load and one
// comparison, with no division.
type head struct {
	bucket int64 // time / width
	start  int64 // bucket × width, in nanoseconds
	slot   int64 // bucket mod n
}

const (
	goodInc  = 1<<32 | 1
	totalInc = 1
	lowMask  = 1<<32 - 1
)

func newRing(width, n, now int64) *ring {
	r := &ring{width: width, n: n, buckets: make([]atomic.Uint64, n)}
	r.head.Store(r.newHead(floorDiv(now, width)))
	return r
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func (r *ring) newHead(b int64) *head {
	return &head{bucket: b, start: b * r.width, slot: r.slot(b)}
}

func (r *ring) cur() int64 { return r.head.Load().bucket }

func (r *ring) slot(b int64) int64 {
	s := b % r.n
	if s < 0 {
		s += r.n
	}
	return s
}

// add counts one event at nanotime now.
func (r *ring) add(now int64, good bool) {
	var inc uint64 = totalInc
	if good {
		inc = goodInc
	}
	h := r.head.Load()
	if d := now - h.start; d >= 0 && d < r.width {
		r.buckets[h.slot].Add(inc)
		return
	}
	b := floorDiv(now, r.width)
	if b > h.bucket {
		r.advance(b)
	} else if b <= h.bucket-r.n {
		return // older than the window: it would land in a reused bucket
	}
	r.buckets[r.slot(b)].Add(inc)
}

// addHead counts one event in the newest bucket without reading the clock:
// the SLO's schedule keeps the head current while it runs.
func (r *ring) addHead(good bool) {
	var inc uint64 = totalInc
	if good {
		inc = goodInc
	}
	r.buckets[r.head.Load().slot].Add(inc)
}

// advanceTo makes the bucket holding now the newest, if it is not already.
func (r *ring) advanceTo(now int64) {
	if b := floorDiv(now, r.width); b > r.cur() {
		r.advance(b)
	}
}

// advance makes b the newest bucket, zeroing the buckets in between.
func (r *ring) advance(b int64) {
	r.mu.Lock()
	c := r.cur()
	if b > c {
		from := c + 1
		if b-from >= r.n {
			from = b - r.n + 1
		}
		for i := from; i <= b; i++ {
			v := unpack(r.buckets[r.slot(i)].Swap(0))
			r.expired.Good += v.Good
			r.expired.Total += v.Total
		}
		r.head.Store(r.newHead(b))
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
	c := r.cur()
	// Visit the spans shortest first, summing each stretch of buckets once.
	var buf [16]int
	order := buf[:0]
	if len(spans) > len(buf) {
		order = make([]int, 0, len(spans))
	}
	for i := range spans {
		order = append(order, i)
		for j := len(order) - 1; j > 0 && spans[order[j]] < spans[order[j-1]]; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	var acc Counts
	var done int64
	slot := r.slot(c)
	for _, i := range order {
		for want := min(spans[i], r.n); done < want; done++ {
			v := unpack(r.buckets[slot].Load())
			acc.Good += v.Good
			acc.Total += v.Total
			if slot--; slot < 0 {
				slot = r.n - 1
			}
		}
		out[i] = acc
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
	c := r.cur()
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

// totals returns every event counted since the ring was made: those of the
// buckets that left the window plus those the ring holds. It never
// decreases, so exporters can publish it as counters.
func (r *ring) totals() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	acc := r.expired
	for i := range r.buckets {
		v := unpack(r.buckets[i].Load())
		acc.Good += v.Good
		acc.Total += v.Total
	}
	return acc
}
