// Package callwindow holds the sliding windows a circuit breaker counts
// calls in: [Count] keeps the last N calls, [Time] the calls of the last
// duration split into buckets. Both are safe for concurrent use, cost no
// allocation per call, and keep running totals so that reading the counts
// costs a few atomic loads.
//
// The totals are exact once concurrent calls to Add have returned; while
// they run, a reader may see one counter updated before another, so readers
// clamp what they see (see [Counts]).
package callwindow

import (
	"sync"
	"sync/atomic"
)

// Counts are the calls in a window: all of them, the failed ones and the
// slow ones (a slow call may also be a failure).
type Counts struct {
	Calls, Failures, Slow int64
}

// Successes returns the calls that did not fail.
func (c Counts) Successes() int64 { return c.Calls - c.Failures }

// clamp makes a reading taken while adds were in flight consistent:
// 0 <= Failures, Slow <= Calls.
func clamp(calls, fails, slow int64) Counts {
	calls = max(calls, 0)
	return Counts{Calls: calls, Failures: min(max(fails, 0), calls), Slow: min(max(slow, 0), calls)}
}

// Slot values: bit 0 marks a recorded call, bit 1 a failure, bit 2 a slow
// call. Zero is an empty slot.
const (
	bitCall = 1 << iota
	bitFail
	bitSlow
)

func encode(failure, slow bool) uint32 {
	v := uint32(bitCall)
	if failure {
		v |= bitFail
	}
	if slow {
		v |= bitSlow
	}
	return v
}

// pad keeps fields written on every call off the cache lines of fields
// that are only read, so parallel callers do not invalidate each other's
// reads.
type pad [64]byte

// Count is a window over the last N calls: a ring of atomic slots. Add
// picks the next slot with one atomic increment and swaps the new outcome
// in; the totals change only when the outcome it evicts differs, so a
// window full of successes costs two atomic operations per call.
type Count struct {
	n     uint64
	slots []atomic.Uint32
	_     pad
	seq   atomic.Uint64
	_     pad
	calls atomic.Int64
	fails atomic.Int64
	slow  atomic.Int64
	_     pad
}

// NewCount returns an empty window of the last n calls; n must be positive.
func NewCount(n int) *Count {
	return &Count{n: uint64(n), slots: make([]atomic.Uint32, n)}
}

// Size returns the window's capacity N.
func (w *Count) Size() int { return int(w.n) }

// Add records one call.
//
// A success added to a full window of successes changes nothing a reader
// can tell: the window holds the same N outcomes, and the next failure is
// evicted N calls after it whichever slot it lands in. Add returns at once
// in that case, with three atomic loads and no write, so a healthy
// breaker's callers share the window's cache lines read-only instead of
// contending for the sequence counter. A concurrent Add that has not yet
// updated the totals is ordered after this one.
func (w *Count) Add(failure, slow bool) {
	v := encode(failure, slow)
	if v == bitCall && w.OnlySuccesses() {
		return
	}
	i := (w.seq.Add(1) - 1) % w.n
	// The slot is this call's alone until the ring comes round, so when it
	// already holds v (a window of successes) there is nothing to write:
	// skipping the swap saves a locked instruction per call, and the
	// totals, changed only by swaps, still match the slots.
	if w.slots[i].Load() == v {
		return
	}
	old := w.slots[i].Swap(v)
	if old == v {
		return
	}
	d := old ^ v
	if d&bitCall != 0 { // the slot was empty: v always holds a call
		w.calls.Add(1)
	}
	if d&bitFail != 0 {
		if v&bitFail != 0 {
			w.fails.Add(1)
		} else {
			w.fails.Add(-1)
		}
	}
	if d&bitSlow != 0 {
		if v&bitSlow != 0 {
			w.slow.Add(1)
		} else {
			w.slow.Add(-1)
		}
	}
}

// OnlySuccesses reports whether the window is full and holds only
// successes (none of them slow): then adding a success changes nothing
// (see [Count.Add]). Three atomic loads.
func (w *Count) OnlySuccesses() bool {
	return w.fails.Load() == 0 && w.slow.Load() == 0 && w.calls.Load() == int64(w.n)
}

// Failures returns the failed calls in the window (one atomic load).
func (w *Count) Failures() int64 { return max(w.fails.Load(), 0) }

// Slow returns the slow calls in the window (one atomic load).
func (w *Count) Slow() int64 { return max(w.slow.Load(), 0) }

// Counts returns the window's totals.
func (w *Count) Counts() Counts {
	return readCounts(&w.calls, &w.fails, &w.slow)
}

// readCounts reads running totals that concurrent adds and rolls keep with
// failures and slow calls never above calls at any instant (an add counts
// the call first, a roll removes failures first). Reading failures and slow
// calls before calls keeps that order in the reading: were calls read
// first, a reader paused between the loads would pair an old call count
// with a newer failure count and see a failure rate far above the true one
// (a breaker at a 100% threshold opened under a 50% failure load).
func readCounts(calls, fails, slow *atomic.Int64) Counts {
	f, s := fails.Load(), slow.Load()
	return clamp(calls.Load(), f, s)
}

// Time is a window over the calls of the last N bucket widths. Each bucket
// covers one width of time and remembers which one (its epoch: the
// monotonic time divided by the width); the window rolls forward one
// bucket at a time, subtracting the bucket it reuses from the running
// totals, and never resets as a whole. Rolling takes a mutex, once per
// bucket width; adding to the current bucket is lock-free.
type Time struct {
	width   int64
	n       int64
	buckets []bucket
	_       pad
	mu      sync.Mutex
	head    atomic.Int64           // newest epoch rolled in
	cur     atomic.Pointer[bucket] // the head bucket
	_       pad
	calls   atomic.Int64
	fails   atomic.Int64
	slow    atomic.Int64
	_       pad
}

type bucket struct {
	epoch atomic.Int64
	calls atomic.Int64
	fails atomic.Int64
	slow  atomic.Int64
}

// NewTime returns an empty window of n buckets of the given width in
// nanoseconds (both positive), starting at the monotonic time now.
func NewTime(width int64, n int, now int64) *Time {
	w := &Time{width: width, n: int64(n), buckets: make([]bucket, n)}
	e := floorDiv(now, width)
	for i := range w.buckets {
		// Give every bucket an epoch it cannot be asked for until it is
		// rolled in, so stale zero epochs never match.
		w.buckets[i].epoch.Store(e - w.n)
	}
	w.buckets[mod(e, w.n)].epoch.Store(e)
	w.head.Store(e)
	w.cur.Store(&w.buckets[mod(e, w.n)])
	return w
}

// Width returns the bucket width in nanoseconds.
func (w *Time) Width() int64 { return w.width }

// Buckets returns the number of buckets.
func (w *Time) Buckets() int { return int(w.n) }

// Add records one call made at the monotonic time now.
func (w *Time) Add(now int64, failure, slow bool) {
	// Most calls land in the head bucket: check that with a multiplication
	// and skip the divisions.
	bk := w.cur.Load()
	if uint64(now-bk.epoch.Load()*w.width) >= uint64(w.width) {
		e := floorDiv(now, w.width)
		if bk = &w.buckets[mod(e, w.n)]; bk.epoch.Load() != e {
			bk = w.roll(e)
		}
	}
	bk.calls.Add(1)
	w.calls.Add(1)
	if failure {
		bk.fails.Add(1)
		w.fails.Add(1)
	}
	if slow {
		bk.slow.Add(1)
		w.slow.Add(1)
	}
}

// roll moves the window forward to epoch e, emptying the buckets it reuses
// and any that fell out of the window, and returns the bucket a call of
// epoch e goes to. A call older than the window's head (a caller that read
// the clock, then stalled while others rolled the window on) goes to the
// head bucket.
func (w *Time) roll(e int64) *bucket {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.head.Load()
	if e > h {
		for ep := max(h+1, e-w.n+1); ep <= e; ep++ {
			bk := &w.buckets[mod(ep, w.n)]
			w.fails.Add(-bk.fails.Swap(0))
			w.slow.Add(-bk.slow.Swap(0))
			w.calls.Add(-bk.calls.Swap(0))
			bk.epoch.Store(ep)
		}
		w.head.Store(e)
		w.cur.Store(&w.buckets[mod(e, w.n)])
		h = e
	}
	if bk := &w.buckets[mod(e, w.n)]; bk.epoch.Load() == e {
		return bk
	}
	return &w.buckets[mod(h, w.n)]
}

// Advance rolls the window forward to the monotonic time now without
// recording a call, so that totals read next leave out calls that have
// aged out.
func (w *Time) Advance(now int64) {
	if e := floorDiv(now, w.width); e > w.head.Load() {
		w.roll(e)
	}
}

// Failures returns the failed calls in the window as of the last Add or
// Advance (one atomic load).
func (w *Time) Failures() int64 { return max(w.fails.Load(), 0) }

// Slow returns the slow calls in the window as of the last Add or Advance.
func (w *Time) Slow() int64 { return max(w.slow.Load(), 0) }

// Counts returns the window's totals as of the last Add or Advance.
func (w *Time) Counts() Counts {
	return readCounts(&w.calls, &w.fails, &w.slow)
}

// CountsAt advances the window to now and returns its totals.
func (w *Time) CountsAt(now int64) Counts {
	w.Advance(now)
	return w.Counts()
}

func floorDiv(a, b int64) int64 {
	if a >= 0 {
		return a / b
	}
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func mod(a, n int64) int64 {
	m := a % n
	if m < 0 {
		m += n
	}
	return m
}
