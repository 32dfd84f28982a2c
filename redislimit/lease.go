package redislimit

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/levee-go/levee"
)

// leaseEntry is one key's leased tokens on this instance.
type leaseEntry struct {
	mu      sync.Mutex
	tokens  int64   // leased and not yet handed out
	expires int64   // Nanotime after which tokens are dropped
	used    int64   // handed out from the current lease
	next    int64   // tokens to ask for next time, 1..Lease
	blocked int64   // Nanotime before which Redis is known to refuse one token
	remote  int64   // remaining reported by Redis with the last lease
	resetAt int64   // Nanotime at which Redis said the key is idle
	refill  *refill // the round trip refilling the lease, nil when none is out
}

// refill is one round trip refilling a lease. The key's other callers wait
// for it, without holding the entry's lock, rather than each make one.
type refill struct {
	done   chan struct{} // closed when it is over
	by     time.Time     // when it will be over at the latest (zero: unbounded)
	failed bool          // Redis did not answer: its waiters use the fallback
}

// leaseTable maps keys to entries, holding at most max of them.
type leaseTable struct {
	max     int
	every   int64 // Nanotime between sweeps of a full table
	mu      sync.RWMutex
	entries map[string]*leaseEntry
	swept   int64 // Nanotime of the last sweep
}

func newLeaseTable(max int, every time.Duration) *leaseTable {
	return &leaseTable{max: max, every: int64(every), entries: make(map[string]*leaseEntry)}
}

// get returns key's entry, making one if there is room. When the table is
// full of live leases it returns nil, and the key is decided without one.
func (t *leaseTable) get(key string, now int64) *leaseEntry {
	t.mu.RLock()
	e := t.entries[key]
	t.mu.RUnlock()
	if e != nil {
		return e
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if e = t.entries[key]; e != nil {
		return e
	}
	if len(t.entries) >= t.max {
		// A sweep costs a pass over the table: at most one per lease TTL,
		// so a flood of new keys cannot make every call pay for one.
		if now-t.swept < t.every {
			return nil
		}
		t.swept = now
		for k, v := range t.entries {
			if v.mu.TryLock() {
				idle := now >= v.expires && now >= v.blocked && v.refill == nil
				v.mu.Unlock()
				if idle {
					delete(t.entries, k)
				}
			}
		}
		if len(t.entries) >= t.max {
			return nil
		}
	}
	e = &leaseEntry{next: 1}
	t.entries[key] = e
	return e
}

// allowLeased decides from key's lease, and refills it with one round trip
// when it is spent or stale. Callers of the same key on this instance wait
// for that one refill instead of each going to Redis; a refill that fails
// sends them all to the fallback, and none waits past its own Timeout.
//
// The size of a refill adapts to demand: it doubles (up to Lease) when a
// lease ran out before it expired and falls back to what was used when it
// expired unspent, so a cold key takes one token at a time and wastes none.
func (l *Limiter) allowLeased(ctx context.Context, e *leaseEntry, key string, n int) (levee.Decision, source, error) {
	want := int64(n)
	var by time.Time // when this decision is due, read once it must wait
	e.mu.Lock()
	for {
		now := l.clk.Nanotime()
		if now < e.blocked {
			d := l.decision(false, 0, time.Duration(e.blocked-now), time.Duration(e.resetAt-now))
			e.mu.Unlock()
			return d, sourceLease, nil
		}
		if now < e.expires && e.tokens >= want {
			e.tokens -= want
			e.used += want
			d := l.decision(true, int(e.tokens+e.remote), 0, time.Duration(e.resetAt-now))
			e.mu.Unlock()
			return d, sourceLease, nil
		}
		if by.IsZero() {
			by = l.disp.due(time.Time{})
		}
		rf := e.refill
		if rf == nil {
			break
		}
		e.mu.Unlock()
		if err := rf.wait(ctx, by); err != nil {
			if err == errLate {
				l.failed(err, false)
				return l.fallback(key, n), sourceFallback, nil
			}
			return levee.Decision{}, sourceNone, err
		}
		if rf.failed {
			return l.fallback(key, n), sourceFallback, nil
		}
		e.mu.Lock()
	}
	ok, probe := l.tryRedis()
	if !ok {
		e.mu.Unlock()
		return l.fallback(key, n), sourceFallback, nil
	}
	now := l.clk.Nanotime()
	// Size the next lease from how the last one went.
	if e.expires != 0 {
		if now < e.expires {
			e.next = min(e.next*2, int64(l.cfg.Lease))
		} else {
			e.next = min(max(e.used, 1), int64(l.cfg.Lease))
		}
	}
	// A hot key asks for at least half a lease, so that under saturation a
	// round trip does not come back with the one token that has trickled
	// in since the last; when fewer are free, the refusal's retry-after
	// tells this instance when to come back, and callers meanwhile are
	// refused locally. Tokens are not lost while it waits: the key keeps
	// earning them in Redis, up to Burst.
	ask, least := max(e.next, want), want
	if e.next > want {
		least = max(want, e.next/2)
	}
	rf := &refill{done: make(chan struct{}), by: by}
	e.refill = rf
	e.mu.Unlock()

	r, err := l.roundTrip(ctx, key, ask, least, by)

	e.mu.Lock()
	e.refill = nil
	if err != nil {
		cerr := ctx.Err()
		rf.failed = cerr == nil // a caller that left is no failure of Redis: a waiter tries again
		close(rf.done)
		e.mu.Unlock()
		if cerr != nil {
			l.abandon(probe)
			return levee.Decision{}, sourceNone, cerr
		}
		l.failed(err, probe)
		return l.fallback(key, n), sourceFallback, nil
	}
	defer close(rf.done)
	l.succeeded(probe)
	now = l.clk.Nanotime()
	e.remote = r.remaining
	e.resetAt = now + int64(r.resetAfter)
	var d levee.Decision
	if r.granted > 0 {
		e.tokens = r.granted - want
		e.used = want
		e.expires = now + int64(l.cfg.LeaseTTL)
		d = l.decision(true, int(e.tokens+e.remote), 0, r.resetAfter)
	} else {
		e.tokens = 0 // keep used: it sizes the next lease
		wait := int64(r.retryAfter)
		if k := int64(l.cfg.Instances); k > 1 && least > 1 {
			// Instances refused together would all come back at the
			// instant least tokens are free, and all but one be refused
			// again. Spread them over the time the others' leases take.
			wait += rand.Int64N(least*(k-1)*int64(l.interval*1e3) + 1)
		}
		e.blocked = now + wait
		d = l.decision(false, int(r.remaining), r.retryAfter, r.resetAfter)
	}
	e.mu.Unlock()
	return d, sourceRedis, nil
}

// wait waits for the refill to be over, for ctx to end (its error), or for
// by, when the refill could outlast it (errLate). A refill is bounded by its
// first caller's due time, which is seldom later than a waiter's: only then
// does the wait need a timer.
func (rf *refill) wait(ctx context.Context, by time.Time) error {
	if by.IsZero() || (!rf.by.IsZero() && !rf.by.After(by)) {
		select {
		case <-rf.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	t := time.NewTimer(time.Until(by))
	defer t.Stop()
	select {
	case <-rf.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errLate
	}
}
