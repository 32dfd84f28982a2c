package concurrency

import (
	"context"
	"fmt"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
)

// DefaultMaxConcurrent is the limit of a [Bulkhead] whose
// [BulkheadConfig.MaxConcurrent] is zero.
const DefaultMaxConcurrent = 25

// BulkheadConfig configures a [Bulkhead]. The zero value is a bulkhead of
// [DefaultMaxConcurrent] slots without a queue.
type BulkheadConfig struct {
	// Name labels the bulkhead's events.
	Name string
	// MaxConcurrent is how many calls may run at once. Zero means
	// [DefaultMaxConcurrent]; negative is refused.
	MaxConcurrent int
	// MaxQueue is how many calls may wait for a slot when all are taken.
	// Waiters are admitted in arrival order. Zero means no queue: a full
	// bulkhead refuses at once; negative is refused.
	MaxQueue int
	// MaxWait is the longest a call waits in the queue before it is refused
	// with [levee.ErrBulkheadFull]. Zero means it waits until a slot frees
	// or its context ends; negative is refused, and so is a positive value
	// without a queue (MaxQueue zero), which could never apply.
	MaxWait time.Duration
	// Clock times the queue wait and stamps events. Nil means [clock.Real].
	Clock clock.Clock
}

// Bulkhead is a fixed concurrency limit with an optional bounded FIFO
// queue: it isolates a dependency so that a slow one cannot hold every
// goroutine of the service.
//
// [Bulkhead.Acquire] admits a call while fewer than the limit are running;
// otherwise the call joins the queue if there is room, and waits until a
// slot is handed to it, its context ends (it gets the context's error) or
// [BulkheadConfig.MaxWait] passes (it gets [levee.ErrBulkheadFull]). With
// no room in the queue the call is refused with [levee.ErrBulkheadFull] at
// once. A slot freed while calls wait goes to the oldest waiter, never to a
// newcomer, so waiting is fair.
//
// Admission without waiting is one compare-and-swap on the in-flight count
// and one on the permit's slot of the settle table, and allocates nothing; only a call that queues allocates (its waiter).
// All methods are safe for concurrent use. Build a Bulkhead with
// [NewBulkhead]: a zero Bulkhead refuses every call with [ErrNotBuilt].
type Bulkhead struct {
	s slots

	name      string
	listeners levee.Listeners
}

// NewBulkhead returns a bulkhead configured by cfg, or an error naming the
// first invalid field.
func NewBulkhead(cfg BulkheadConfig) (*Bulkhead, error) {
	switch {
	case cfg.MaxConcurrent < 0:
		return nil, fmt.Errorf("concurrency: BulkheadConfig.MaxConcurrent = %d, want >= 0 (0 means %d)", cfg.MaxConcurrent, DefaultMaxConcurrent)
	case cfg.MaxQueue < 0:
		return nil, fmt.Errorf("concurrency: BulkheadConfig.MaxQueue = %d, want >= 0 (0 means no queue)", cfg.MaxQueue)
	case cfg.MaxWait < 0:
		return nil, fmt.Errorf("concurrency: BulkheadConfig.MaxWait = %v, want >= 0 (0 means until the context ends)", cfg.MaxWait)
	case cfg.MaxWait > 0 && cfg.MaxQueue == 0:
		return nil, fmt.Errorf("concurrency: BulkheadConfig.MaxWait = %v needs MaxQueue > 0: without a queue no call waits", cfg.MaxWait)
	}
	limit := cfg.MaxConcurrent
	if limit == 0 {
		limit = DefaultMaxConcurrent
	}
	b := &Bulkhead{name: cfg.Name}
	b.s.setQueue(cfg.MaxQueue, cfg.MaxWait, false)
	b.s.clk = clock.Or(cfg.Clock)
	b.s.limit.Store(int64(limit))
	return b, nil
}

// Stage returns [levee.StageConcurrency].
func (b *Bulkhead) Stage() levee.Stage { return levee.StageConcurrency }

// OnEvent registers a listener for the bulkhead's events:
// [levee.EventRejected] for every refused call (Reason "full" when there
// was no room in the queue, "wait" when MaxWait ran out; Value the calls in
// flight, Threshold the limit, both counts of calls) and
// [levee.EventLimitChange] when [Bulkhead.SetLimit] changes the limit
// (Value the new limit, Threshold the old one, in calls).
func (b *Bulkhead) OnEvent(fn levee.Listener) (remove func()) { return b.listeners.Add(fn) }

// InFlight returns how many admitted calls have not been settled yet.
// After the limit is lowered it may exceed [Bulkhead.Limit] until enough
// of them end.
func (b *Bulkhead) InFlight() int { return int(b.s.inflight.Load()) }

// Queued returns how many calls are waiting for a slot.
func (b *Bulkhead) Queued() int { return int(b.s.q.n.Load()) }

// Limit returns how many calls may run at once.
func (b *Bulkhead) Limit() int { return int(b.s.limit.Load()) }

// SetLimit changes how many calls may run at once. Raising it admits
// waiters at once, oldest first; lowering it lets calls already running
// finish, and admits no one until fewer than n run. n must be at least 1.
func (b *Bulkhead) SetLimit(n int) error {
	if n < 1 {
		return fmt.Errorf("concurrency: SetLimit(%d), want >= 1", n)
	}
	if b.s.clk == nil {
		return ErrNotBuilt
	}
	b.s.mu.Lock()
	old := b.s.setLimitLocked(int64(n))
	b.s.mu.Unlock()
	if int64(n) != old && b.listeners.Active() {
		b.listeners.Emit(levee.Event{Kind: levee.EventLimitChange, Policy: "bulkhead", Name: b.name,
			Time: b.s.clk.Now(), Value: float64(n), Threshold: float64(old)})
	}
	return nil
}

// Acquire admits a call, waits for a slot in the queue, or refuses the call
// with [levee.ErrBulkheadFull]. A call whose context ends while it waits
// leaves the queue at once with the context's error; a call whose context
// has already ended is never queued, but may still take a free slot (the
// call itself then sees its context). An admitted call must settle its
// permit exactly once, which frees its slot.
func (b *Bulkhead) Acquire(ctx context.Context) (levee.Permit, error) {
	if n, ok := b.s.admitNow(); ok {
		return levee.NewPermit(b, b.s.claim(n), 0), nil
	}
	if b.s.clk == nil {
		return levee.Permit{}, ErrNotBuilt
	}
	n, full, timedOut, err := b.s.acquire(ctx)
	switch {
	case err != nil:
		return levee.Permit{}, err
	case full:
		return levee.Permit{}, b.reject("full")
	case timedOut:
		return levee.Permit{}, b.reject("wait")
	}
	return levee.NewPermit(b, b.s.claim(n), 0), nil
}

// Release frees the permit's slot: it goes straight to the oldest waiter,
// or back to the pool when none waits. The outcome does not matter to a
// fixed limit. A permit settled before, one from an earlier admission and
// one the bulkhead did not issue free nothing.
func (b *Bulkhead) Release(p levee.Permit, _ levee.Outcome) { b.s.settle(p.Token()) }

func (b *Bulkhead) reject(reason string) error {
	if b.listeners.Active() {
		b.listeners.Emit(levee.Event{Kind: levee.EventRejected, Policy: "bulkhead", Name: b.name,
			Time: b.s.clk.Now(), Reason: reason, Value: float64(b.s.inflight.Load()),
			Threshold: float64(b.s.limit.Load()), Err: levee.ErrBulkheadFull})
	}
	return levee.ErrBulkheadFull
}

var (
	_ levee.Gate     = (*Bulkhead)(nil)
	_ levee.Releaser = (*Bulkhead)(nil)
)
