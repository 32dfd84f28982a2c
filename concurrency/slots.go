package concurrency

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/internal/settle"
)

// slots is the admission core the [Bulkhead] and the [Limiter] share: an
// in-flight count held under a limit, one queue of waiters, one release
// path, and the table of the permits not yet settled. The gates add what
// differs: how the limit moves, what a permit records, and their events.
//
// Admission without waiting is one compare-and-swap on the in-flight count
// plus the claim of a permit slot, and allocates nothing. A freed slot goes
// to the next waiter (the oldest, or the newest with lifo) without passing
// through the count, so a newcomer never takes it first.
type slots struct {
	inflight atomic.Int64
	limit    atomic.Int64

	// The queue's settings, atomics so that Reconfigure may change them
	// while calls wait.
	maxQueue atomic.Int64
	maxWait  atomic.Int64 // ns
	lifo     atomic.Bool
	clk      clock.Clock

	mu sync.Mutex // guards the queue; the Limiter also guards its window with it
	q  waitQueue  // q.n may be read without mu

	permits settle.Table // aux: the in-flight count at admission
}

// tryAdmit takes a slot if one is free and returns the in-flight count,
// itself included.
func (s *slots) tryAdmit() (int64, bool) {
	for {
		n := s.inflight.Load()
		if n >= s.limit.Load() {
			return 0, false
		}
		if s.inflight.CompareAndSwap(n, n+1) {
			return n + 1, true
		}
	}
}

// admitNow is the fast path: a free slot when nobody waits, so that a slot
// freed while calls wait goes to a waiter (see release).
func (s *slots) admitNow() (int64, bool) {
	if s.q.n.Load() != 0 {
		return 0, false
	}
	return s.tryAdmit()
}

// acquire is the slow path of both gates: it admits the call, queues it
// until a slot is handed over, its context ends or maxWait passes, or
// refuses it. It returns the in-flight count at admission; full reports a
// refusal for want of room in the queue, timedOut one for waiting maxWait;
// err is the context's error.
func (s *slots) acquire(ctx context.Context) (demand int64, full, timedOut bool, err error) {
	if s.maxQueue.Load() == 0 {
		// Nobody ever waits: refuse without taking the lock.
		if n, ok := s.tryAdmit(); ok {
			return n, false, false, nil
		}
		return 0, true, false, nil
	}
	s.mu.Lock()
	if s.q.head == nil {
		// A slot may have freed since the fast path looked.
		if n, ok := s.tryAdmit(); ok {
			s.mu.Unlock()
			return n, false, false, nil
		}
	}
	if s.q.n.Load() >= s.maxQueue.Load() {
		s.mu.Unlock()
		return 0, true, false, nil
	}
	if err := ctx.Err(); err != nil {
		s.mu.Unlock()
		return 0, false, false, err
	}
	w := &waiter{ready: make(chan struct{}, 1)}
	s.q.push(w)
	// Counting ourselves in before looking at the slots again pairs with
	// release, which frees a slot before it looks at the queue: one of the
	// two sees the other, so a slot freed meanwhile is not missed.
	s.grantLocked()
	s.mu.Unlock()

	var timeout <-chan time.Time
	if wait := time.Duration(s.maxWait.Load()); wait > 0 {
		t := s.clk.NewTimer(wait)
		defer t.Stop()
		timeout = t.C()
	}
	select {
	case <-w.ready:
		return w.demand, false, false, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-timeout:
	}

	s.mu.Lock()
	if w.granted {
		// A slot was handed over while we gave up.
		s.mu.Unlock()
		if err == nil {
			return w.demand, false, false, nil // the wait ran out, but we got in
		}
		s.release() // pass it on: the caller has gone
		return 0, false, false, err
	}
	s.q.remove(w)
	s.mu.Unlock()
	return 0, false, err == nil, err
}

// release frees a slot: it goes straight to the next waiter, or back to
// the count when none waits or the limit was lowered below what runs now.
func (s *slots) release() {
	if s.q.n.Load() > 0 {
		s.mu.Lock()
		if n := s.inflight.Load(); s.q.head != nil && n <= s.limit.Load() {
			s.grantOneLocked(n)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
	s.inflight.Add(-1)
	if s.q.n.Load() > 0 {
		s.mu.Lock()
		s.grantLocked()
		s.mu.Unlock()
	}
}

// setLimitLocked changes the limit and admits waiters if it rose. The
// caller holds mu.
func (s *slots) setLimitLocked(n int64) (old int64) {
	old = s.limit.Swap(n)
	if n > old && s.q.n.Load() > 0 {
		s.grantLocked()
	}
	return old
}

// grantLocked admits waiters while slots are free.
func (s *slots) grantLocked() {
	for s.q.head != nil {
		n, ok := s.tryAdmit()
		if !ok {
			return
		}
		s.grantOneLocked(n)
	}
}

// grantOneLocked gives the next waiter (the oldest, or the newest with
// lifo) a slot already counted in flight.
func (s *slots) grantOneLocked(demand int64) {
	w := s.q.head
	if s.lifo.Load() {
		w = s.q.tail
	}
	s.q.remove(w)
	w.granted = true
	w.demand = demand
	w.ready <- struct{}{}
}

// setQueue sets the queue's settings: how many calls may wait, for how
// long (zero: until their context ends), and in which order.
func (s *slots) setQueue(maxQueue int, maxWait time.Duration, lifo bool) {
	s.maxQueue.Store(int64(maxQueue))
	s.maxWait.Store(int64(maxWait))
	s.lifo.Store(lifo)
}

// claim records an admission for its permit and returns the permit's token.
// demand, the in-flight count at admission, stands for the permits
// outstanding: the table holds no more permits than are in flight, and
// callers admitted at once hold different counts, so they search apart.
func (s *slots) claim(demand int64) uint64 {
	return s.permits.Claim(uint64(demand), demand)
}

// settle frees the slot of the permit with the given token, once: it
// returns the in-flight count at the permit's admission, and false for a
// permit already settled, from an earlier admission, or never issued.
func (s *slots) settle(token uint64) (demand int64, ok bool) {
	aux, ok := s.permits.Settle(token)
	if !ok {
		return 0, false
	}
	s.release()
	return int64(aux), true
}
