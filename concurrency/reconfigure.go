package concurrency

import (
	"fmt"

	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
)

// fixed checks the fields that name a gate and give it its clock, which
// cannot change at run time: zero means "as now", another value is an
// error naming the field.
func fixed(kind, name, curName string, clk, curClk clock.Clock) error {
	switch {
	case name != "" && name != curName:
		return fmt.Errorf("concurrency: %s.Name = %q, cannot change at run time (it is %q)", kind, name, curName)
	case clk != nil && clk != curClk:
		return fmt.Errorf("concurrency: %s.Clock cannot change at run time", kind)
	}
	return nil
}

// rejectionFor is the error a [Limiter] refuses with: [levee.ErrShed],
// carrying retryAfter when positive.
func rejectionFor(retryAfter time.Duration) *error {
	err := levee.ErrShed
	if retryAfter > 0 {
		err = levee.Reject(levee.ErrShed, retryAfter)
	}
	return &err
}

// Reconfigure applies cfg to the running bulkhead atomically, after
// validating the whole of it as [NewBulkhead] does (zero fields take the
// same defaults); on an error, which names the field, nothing changes.
//
// The calls in flight and the calls waiting keep their places: a higher
// limit admits waiters at once, a lower one lets the calls running finish
// (as [Bulkhead.SetLimit]); a shorter queue turns no waiter away, it only
// refuses new ones until it is short enough; a new MaxWait applies to calls
// that join the queue after the change. Name and Clock cannot change: zero
// (or nil) means "as now", another value is an error. A zero Bulkhead
// returns [ErrNotBuilt].
func (b *Bulkhead) Reconfigure(cfg BulkheadConfig) error {
	if b.s.clk == nil {
		return ErrNotBuilt
	}
	if err := fixed("BulkheadConfig", cfg.Name, b.name, cfg.Clock, b.s.clk); err != nil {
		return err
	}
	cfg.Name, cfg.Clock = b.name, b.s.clk
	nb, err := NewBulkhead(cfg) // validates, and resolves the defaults
	if err != nil {
		return err
	}
	n := nb.s.limit.Load()
	b.s.mu.Lock()
	b.s.setQueue(cfg.MaxQueue, cfg.MaxWait, false)
	old := b.s.setLimitLocked(n)
	b.s.mu.Unlock()
	if n != old && b.listeners.Active() {
		b.listeners.Emit(levee.Event{Kind: levee.EventLimitChange, Policy: "bulkhead", Name: b.name,
			Time: b.s.clk.Now(), Value: float64(n), Threshold: float64(old)})
	}
	return nil
}

// Reconfigure applies cfg to the running limiter atomically, after
// validating the whole of it as [NewLimiter] does (zero fields take the
// same defaults, so a nil Algorithm is a new [Gradient2]); on an error,
// which names the field, nothing changes.
//
// The limit learned so far is kept, clamped to the new algorithm's bounds,
// and so are the calls in flight and waiting, and the sample window under
// way. Passing the Algorithm the limiter runs keeps what it has learned
// too; another one starts from the kept limit. The new window bounds apply
// from the next window, MaxWait to calls that join the queue after the
// change. Name and Clock cannot change: zero (or nil) means "as now",
// another value is an error. A zero Limiter returns [ErrNotBuilt].
func (l *Limiter) Reconfigure(cfg LimiterConfig) error {
	if l.clk == nil {
		return ErrNotBuilt
	}
	if err := fixed("LimiterConfig", cfg.Name, l.name, cfg.Clock, l.clk); err != nil {
		return err
	}
	cfg.Name, cfg.Clock = l.name, l.clk
	nl, err := NewLimiter(cfg) // validates, and resolves the defaults
	if err != nil {
		return err
	}
	l.s.mu.Lock()
	l.alg, l.minLimit, l.maxLimit = nl.alg, nl.minLimit, nl.maxLimit
	l.minWindow, l.maxWindow = nl.minWindow, nl.maxWindow
	l.minSamples.Store(nl.minSamples.Load())
	l.rejection.Store(nl.rejection.Load())
	l.s.setQueue(cfg.MaxQueue, cfg.MaxWait, cfg.LIFO)
	old := l.limitF
	l.limitF = min(max(old, l.minLimit), l.maxLimit)
	oldN, newN := int64(old), int64(l.limitF)
	if newN != oldN {
		l.s.setLimitLocked(newN)
	}
	l.s.mu.Unlock()
	if newN != oldN && l.listeners.Active() {
		l.listeners.Emit(levee.Event{Kind: levee.EventLimitChange, Policy: "adaptive", Name: l.name,
			Time: l.clk.Now(), Value: float64(newN), Threshold: float64(oldN), Reason: "reconfigured"})
	}
	return nil
}
