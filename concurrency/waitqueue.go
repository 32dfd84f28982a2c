package concurrency

import (
	"errors"
	"sync/atomic"
)

// waiter is a call queued in a Bulkhead or a Limiter.
type waiter struct {
	ready      chan struct{} // receives once when the waiter is granted a slot
	granted    bool
	queued     bool
	demand     int64 // the in-flight count at the grant, itself included
	prev, next *waiter
}

// waitQueue is the intrusive doubly linked list of waiters of [slots]:
// callers hold slots.mu for push and remove; n may be read without
// it, so the fast paths can skip the queue when it is empty.
type waitQueue struct {
	head, tail *waiter
	n          atomic.Int64
}

func (q *waitQueue) push(w *waiter) {
	w.queued = true
	w.prev = q.tail
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
	q.n.Add(1)
}

func (q *waitQueue) remove(w *waiter) {
	if !w.queued {
		return
	}
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.prev, w.next, w.queued = nil, nil, false
	q.n.Add(-1)
}

// ErrNotBuilt is what the gates of this package return when used as zero
// values: a [Bulkhead] must come from [NewBulkhead] and a [Limiter] from
// [NewLimiter], which apply the defaults a zero config asks for.
var ErrNotBuilt = errors.New("concurrency: gate used as a zero value; build it with NewBulkhead or NewLimiter")
