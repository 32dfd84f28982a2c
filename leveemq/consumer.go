package leveemq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/concurrency"
	"github.com/levee-go/levee/retry"
)

// Limit is a concurrency gate whose limit the source's prefetch follows:
// [concurrency.Bulkhead] and [concurrency.Limiter] are limits.
type Limit interface {
	levee.Gate
	Limit() int
}

// Defaults for the zero [Config].
const (
	DefaultMaxAttempts = 5
	DefaultConcurrency = 8
	DefaultLease       = 30 * time.Second
	DefaultPause       = time.Second
)

// Config configures a [Consumer]. Source and Handler are required; every
// other field has a default.
type Config struct {
	// Source is the queue to consume.
	Source Source
	// Handler processes each message.
	Handler Handler
	// Store deduplicates by message id and counts failures. Nil means no
	// deduplication (at-least-once delivery) and attempts counted by the
	// broker ([Message.Attempt]), which then also counts returns made while
	// the dependency refused.
	Store Store
	// MaxAttempts is how many failed attempts dead-letter a message. Zero
	// means [DefaultMaxAttempts]; negative is refused.
	MaxAttempts int
	// Backoff gives the delay before each retry ([retry.Retry.Delay]). Nil
	// means a zero retry.Retry: exponential backoff with its default jitter
	// and delays.
	Backoff *retry.Retry
	// Concurrency bounds the handlers in flight. Nil means a
	// [concurrency.Bulkhead] of [DefaultConcurrency].
	Concurrency Limit
	// Dependency guards what the handler calls, typically a breaker.Breaker.
	// While it refuses (an error matching levee.ErrRejected), messages are
	// returned to the source without counting an attempt and fetching
	// pauses for the refusal's RetryAfter (or [Config.Pause]). The handler's
	// error settles the gate's permit. Nil means none.
	Dependency levee.Gate
	// Pause is how long fetching pauses after a refusal that says nothing
	// of when to retry. Zero means [DefaultPause]; negative is refused.
	Pause time.Duration
	// Lease is how long a claim on a message lasts before another consumer
	// may take it over; it must exceed the handler's longest run. Zero
	// means [DefaultLease]; negative is refused.
	Lease time.Duration
	// Clock times pauses. Nil means [clock.Real].
	Clock clock.Clock
}

// Stats counts what a consumer did with the messages it received.
type Stats struct {
	// Processed: handler succeeded, message acknowledged.
	Processed int64
	// Duplicates: message already done, acknowledged without the handler.
	Duplicates int64
	// Retried: handler failed, message returned with a backoff delay.
	Retried int64
	// DeadLettered: message moved to the dead-letter destination.
	DeadLettered int64
	// Returned: message returned without counting an attempt, because the
	// dependency refused, another consumer held its lease or the store
	// failed.
	Returned int64
}

// Consumer runs a handler over a source's messages; see the package
// documentation. Build it with [New] and start it with [Consumer.Run].
type Consumer struct {
	cfg      Config
	maxAtt   int
	backoff  *retry.Retry
	limit    Limit
	pause    time.Duration
	lease    time.Duration
	clk      clock.Clock
	pausedTo atomic.Int64 // clock nanotime until which fetching pauses

	processed, duplicates, retried, deadLettered, returned atomic.Int64
}

// New returns a consumer configured by cfg, or an error naming the first
// invalid field.
func New(cfg Config) (*Consumer, error) {
	c := &Consumer{cfg: cfg, clk: clock.Or(cfg.Clock)}
	switch {
	case cfg.Source == nil:
		return nil, errors.New("leveemq: Config.Source is nil")
	case cfg.Handler == nil:
		return nil, errors.New("leveemq: Config.Handler is nil")
	case cfg.MaxAttempts < 0:
		return nil, fmt.Errorf("leveemq: Config.MaxAttempts = %d, want 0 (default %d) or more", cfg.MaxAttempts, DefaultMaxAttempts)
	case cfg.Pause < 0:
		return nil, fmt.Errorf("leveemq: Config.Pause = %v, want 0 (default %v) or more", cfg.Pause, DefaultPause)
	case cfg.Lease < 0:
		return nil, fmt.Errorf("leveemq: Config.Lease = %v, want 0 (default %v) or more", cfg.Lease, DefaultLease)
	}
	c.maxAtt = or(cfg.MaxAttempts, DefaultMaxAttempts)
	c.pause = or(cfg.Pause, DefaultPause)
	c.lease = or(cfg.Lease, DefaultLease)
	c.backoff = cfg.Backoff
	if c.backoff == nil {
		c.backoff = &retry.Retry{}
	}
	c.limit = cfg.Concurrency
	if c.limit == nil {
		b, err := concurrency.NewBulkhead(concurrency.BulkheadConfig{
			Name: "leveemq", MaxConcurrent: DefaultConcurrency, MaxQueue: 1, Clock: cfg.Clock,
		})
		if err != nil {
			return nil, err
		}
		c.limit = b
	}
	return c, nil
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Stats returns the counts so far.
func (c *Consumer) Stats() Stats {
	return Stats{
		Processed: c.processed.Load(), Duplicates: c.duplicates.Load(), Retried: c.retried.Load(),
		DeadLettered: c.deadLettered.Load(), Returned: c.returned.Load(),
	}
}

// Run consumes until ctx ends or the source breaks. When ctx ends it stops
// fetching, waits for the handlers in flight and settles their messages,
// then returns nil. A broken source ends Run with its error, also after the
// handlers in flight finished.
//
// Each message in flight runs on its own goroutine, so the goroutines are
// bounded by the concurrency limit. Call Run once per consumer at a time.
func (c *Consumer) Run(ctx context.Context) error {
	work := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	prefetch := 0
	for {
		if err := c.waitPause(ctx); err != nil {
			return nil
		}
		permit, err := c.limit.Acquire(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Refused at once (no queue room): wait briefly for a slot.
			if c.sleep(ctx, 5*time.Millisecond) != nil {
				return nil
			}
			continue
		}
		// The limit may have changed while this loop waited for a slot:
		// follow it before receiving, or a raised limit would wait for
		// deliveries the old prefetch holds back.
		if l := c.limit.Limit(); l != prefetch {
			if err := c.cfg.Source.SetPrefetch(l); err != nil {
				permit.Record(levee.Outcome{Result: levee.Ignored, Err: err})
				return fmt.Errorf("leveemq: set prefetch %d: %w", l, err)
			}
			prefetch = l
		}
		d, err := c.cfg.Source.Receive(ctx)
		if err != nil {
			permit.Record(levee.Outcome{Result: levee.Ignored, Err: err})
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("leveemq: receive: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := c.clk.Nanotime()
			err := c.process(work, d)
			permit.Record(levee.Outcome{Result: levee.DefaultClassifier(err), Latency: time.Duration(c.clk.Nanotime() - start), Err: err})
		}()
	}
}

// waitPause blocks while fetching is paused.
func (c *Consumer) waitPause(ctx context.Context) error {
	for {
		wait := time.Duration(c.pausedTo.Load() - c.clk.Nanotime())
		if wait <= 0 {
			return ctx.Err()
		}
		if err := c.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

func (c *Consumer) sleep(ctx context.Context, d time.Duration) error {
	t := c.clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// pauseFor pauses fetching for at least d.
func (c *Consumer) pauseFor(d time.Duration) {
	to := c.clk.Nanotime() + int64(d)
	for {
		cur := c.pausedTo.Load()
		if cur >= to || c.pausedTo.CompareAndSwap(cur, to) {
			return
		}
	}
}

// process handles one delivery and settles it. It returns the handler's
// error (nil when the handler did not run) for the concurrency gate.
func (c *Consumer) process(ctx context.Context, d Delivery) error {
	m := d.Message()
	if m.ID == "" {
		c.deadLetter(ctx, d, m, "leveemq: message has no id", 0)
		return nil
	}
	st := c.cfg.Store
	if st != nil {
		claim, left, err := st.Begin(ctx, m.ID, c.lease)
		switch {
		case err != nil:
			// The store is down: return the message unprocessed rather
			// than risk processing it twice, and pause fetching as for a
			// refusing dependency.
			c.pauseFor(c.pause)
			c.giveBack(ctx, d, c.pause)
			return nil
		case claim == AlreadyDone:
			c.duplicates.Add(1)
			_ = d.Ack(ctx)
			return nil
		case claim == Busy:
			c.giveBack(ctx, d, max(left, time.Millisecond))
			return nil
		}
	}
	var dep levee.Permit
	if c.cfg.Dependency != nil {
		p, err := c.cfg.Dependency.Acquire(ctx)
		if err != nil {
			c.refused(ctx, d, m, err)
			return nil
		}
		dep = p
	}
	err := c.call(ctx, m)
	dep.Done(err)
	switch {
	case err == nil:
		if st != nil {
			// A failed mark leaves the message claimed until its lease
			// ends; the message is acknowledged anyway, since its effect is
			// applied (a handler that records its effect with the done mark,
			// as redisstore.Store.Handler does, is safe either way).
			_ = st.Done(ctx, m.ID)
		}
		c.processed.Add(1)
		_ = d.Ack(ctx)
		return nil
	case errors.Is(err, levee.ErrRejected):
		c.refused(ctx, d, m, err)
		return err
	case errors.Is(err, retry.ErrNoRetry):
		n := c.fail(ctx, m)
		c.deadLetter(ctx, d, m, err.Error(), n)
		return err
	}
	n := c.fail(ctx, m)
	if n >= c.maxAtt {
		c.deadLetter(ctx, d, m, err.Error(), n)
		return err
	}
	c.retried.Add(1)
	_ = d.Retry(ctx, c.backoff.Delay(n, 0))
	return err
}

// call runs the handler, turning a panic into an error.
func (c *Consumer) call(ctx context.Context, m Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("leveemq: handler panic: %v", r)
		}
	}()
	return c.cfg.Handler(ctx, m)
}

// fail counts a failed attempt and returns the failures so far.
func (c *Consumer) fail(ctx context.Context, m Message) int {
	if c.cfg.Store == nil {
		return max(m.Attempt, 1)
	}
	n, err := c.cfg.Store.Fail(ctx, m.ID)
	if err != nil {
		return max(m.Attempt, 1)
	}
	return n
}

// refused returns a message the dependency refused and pauses fetching.
func (c *Consumer) refused(ctx context.Context, d Delivery, m Message, err error) {
	wait, ok := levee.RetryAfter(err)
	if !ok || wait <= 0 {
		wait = c.pause
	}
	c.pauseFor(wait)
	if c.cfg.Store != nil {
		_ = c.cfg.Store.Release(ctx, m.ID)
	}
	c.giveBack(ctx, d, wait)
}

func (c *Consumer) giveBack(ctx context.Context, d Delivery, delay time.Duration) {
	c.returned.Add(1)
	_ = d.Retry(ctx, delay)
}

func (c *Consumer) deadLetter(ctx context.Context, d Delivery, m Message, reason string, n int) {
	if err := d.DeadLetter(ctx, reason, n); err != nil {
		// Not moved: leave it to be redelivered and dead-lettered then.
		_ = d.Retry(ctx, c.pause)
		return
	}
	if c.cfg.Store != nil && m.ID != "" {
		_ = c.cfg.Store.Forget(ctx, m.ID)
	}
	c.deadLettered.Add(1)
}

var (
	_ Limit = (*concurrency.Bulkhead)(nil)
	_ Limit = (*concurrency.Limiter)(nil)
)
