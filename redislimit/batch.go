package redislimit

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Decisions reach Redis through a dispatcher that batches them only when
// there is a queue. At most MaxInFlight round trips are out at once. A
// decision that finds one free goes at once, alone, so a lone caller never
// waits for company. A decision that finds none free queues; when a round
// trip comes back, the first queued decision takes its place and carries
// every decision queued behind it (up to maxBatch) in one pipeline. Batches
// grow with load and vanish without it, with no timer and no goroutine of
// the dispatcher's own. Each decision is still its own script run, as
// atomic as one sent alone; the batch saves the system calls and the
// per-request work on both ends, which dominate the cost of a decision once
// Redis is busy.

// maxBatch caps the decisions one pipeline carries, so one batch cannot
// hold a reply back behind too many others.
const maxBatch = 128

// Pending states.
const (
	queued    uint32 = iota // waiting in the queue
	taken                   // carried by another decision's round trip
	leading                 // promoted: must send the queue
	abandoned               // its caller's context ended while queued
)

// pending is one queued decision.
type pending struct {
	ctx       context.Context // the caller's, for its values (a trace, say)
	key       string          // the Redis key
	want, min int64
	now       any
	by        time.Time // when its answer is due: asked + Timeout
	state     atomic.Uint32
	done      chan struct{} // signalled once: promoted or answered
	next      *pending

	r   reply
	err error
}

// dispatcher holds the queue and counts the round trips in flight.
type dispatcher struct {
	mu       sync.Mutex
	head     *pending
	tail     *pending
	inflight int
	max      int           // round trips in flight at once; 0 or less means no limit
	timeout  time.Duration // Timeout: bounds each decision from when it is asked; 0 or less means none

	// one sends a decision alone; many sends a batch in one round trip
	// and answers each of its decisions.
	one  func(ctx context.Context, key string, want, min int64, now any) (reply, error)
	many func(ctx context.Context, batch []*pending)
}

// do answers one decision: at once when a round trip is free, otherwise
// after queueing. An error from ctx is returned only while the decision is
// still queued; once sent, it is answered.
//
// Each decision is due Timeout after it is asked: by that time, or by, when
// by is earlier (a caller that waited before it came here). The due time is
// read under d.mu, so the decisions queued are due in queue order and each
// is due no sooner than every round trip already out. A round trip is
// bounded by the due time of the decision that sends it (its first), and a
// queued decision's turn therefore comes before it is due; so, however long
// the queue, every decision is answered by its due time, whether Redis
// answers or not.
func (d *dispatcher) do(ctx context.Context, key string, want, min int64, now any, by time.Time) (reply, error) {
	if d.max <= 0 {
		ctx, cancel := d.bound(ctx, d.due(by))
		defer cancel()
		return d.one(ctx, key, want, min, now)
	}
	d.mu.Lock()
	by = d.due(by)
	if d.inflight < d.max {
		d.inflight++
		d.mu.Unlock()
		defer d.release() // even if the client panics
		ctx, cancel := d.bound(ctx, by)
		defer cancel()
		return d.one(ctx, key, want, min, now)
	}
	p := &pending{ctx: ctx, key: key, want: want, min: min, now: now, by: by, done: make(chan struct{}, 1)}
	if d.tail == nil {
		d.head = p
	} else {
		d.tail.next = p
	}
	d.tail = p
	d.mu.Unlock()

	select {
	case <-p.done:
	case <-ctx.Done():
		if p.state.CompareAndSwap(queued, abandoned) {
			return reply{}, ctx.Err()
		}
		<-p.done // already sent, or promoted: see it through
	}
	if p.state.Load() == leading {
		d.lead(p)
	}
	return p.r, p.err
}

// due returns when a decision asked now and due by (zero: no earlier due
// time of its own) must be answered; zero when nothing bounds it.
func (d *dispatcher) due(by time.Time) time.Time {
	if d.timeout <= 0 {
		return by
	}
	t := time.Now().Add(d.timeout)
	if !by.IsZero() && by.Before(t) {
		return by
	}
	return t
}

// bound makes ctx end at by (no bound when by is zero).
func (d *dispatcher) bound(ctx context.Context, by time.Time) (context.Context, context.CancelFunc) {
	if by.IsZero() {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, by)
}

// release hands the finished round trip's slot to the first decision still
// queued, or frees it when none is.
func (d *dispatcher) release() {
	d.mu.Lock()
	for p := d.pop(); p != nil; p = d.pop() {
		if p.state.CompareAndSwap(queued, leading) {
			d.mu.Unlock()
			p.done <- struct{}{}
			return
		}
	}
	d.inflight--
	d.mu.Unlock()
}

// pop removes the queue's first decision; d.mu is held.
func (d *dispatcher) pop() *pending {
	p := d.head
	if p == nil {
		return nil
	}
	d.head = p.next
	if d.head == nil {
		d.tail = nil
	}
	p.next = nil
	return p
}

// lead sends p and the decisions queued behind it in one round trip, answers
// them all and hands the slot on. The round trip carries the values of p's
// context (a trace, say) but not its cancellation, since the others'
// answers ride on it. It is bounded by p's due time, the earliest of the
// batch's (p queued first); a batch already late is not sent.
func (d *dispatcher) lead(p *pending) {
	batch := []*pending{p}
	d.mu.Lock()
	for len(batch) < maxBatch {
		q := d.pop()
		if q == nil {
			break
		}
		if q.state.CompareAndSwap(queued, taken) {
			batch = append(batch, q)
		}
	}
	d.mu.Unlock()

	// However the round trip ends, even in a panic of the client's, the
	// others are answered and the slot is handed on, so no caller is
	// left waiting and the limiter is not left short of a slot.
	answered := false
	defer func() {
		if !answered {
			for _, q := range batch[1:] {
				q.r, q.err = reply{}, errLeaderPanicked
			}
		}
		for _, q := range batch[1:] {
			q.done <- struct{}{}
		}
		d.release()
	}()
	if !p.by.IsZero() && !time.Now().Before(p.by) {
		for _, q := range batch {
			q.r, q.err = reply{}, errLate
		}
		answered = true
		return
	}
	ctx, cancel := d.bound(context.WithoutCancel(p.ctx), p.by)
	defer cancel()
	if len(batch) == 1 {
		p.r, p.err = d.one(ctx, p.key, p.want, p.min, p.now)
	} else {
		d.many(ctx, batch)
	}
	answered = true
}

// errLeaderPanicked answers the decisions of a batch whose round trip
// panicked; the panic itself goes on up the leading caller's stack.
var errLeaderPanicked = errors.New("redislimit: the round trip carrying this decision panicked")

// errLate answers the decisions of a batch whose turn came when its
// Timeout had passed: Redis is too slow to answer them in time.
var errLate = errors.New("redislimit: Timeout passed while the decision was queued")

// sendBatch runs the script once per decision in one pipeline, and again
// with EVAL, in a second pipeline, for those Redis answers NOSCRIPT (it lost
// the script).
func (l *Limiter) sendBatch(ctx context.Context, batch []*pending) {
	cmds := l.pipeline(ctx, batch, false)
	var lost []*pending
	var lostAt []int
	for i, cmd := range cmds {
		if err := cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			lost = append(lost, batch[i])
			lostAt = append(lostAt, i)
		}
	}
	if len(lost) > 0 {
		again := l.pipeline(ctx, lost, true)
		for j, i := range lostAt {
			cmds[i] = again[j]
		}
	}
	for i, p := range batch {
		v, err := cmds[i].Result()
		if err != nil {
			p.err = err
			continue
		}
		p.r, p.err = parseReply(v, p.want)
	}
}

// pipeline sends one script run per decision, by SHA or, with eval, by
// source. The commands carry their own errors; Exec's is the first of them.
func (l *Limiter) pipeline(ctx context.Context, batch []*pending, eval bool) []*redis.Cmd {
	pipe := l.cfg.Client.Pipeline()
	cmds := make([]*redis.Cmd, len(batch))
	for i, p := range batch {
		keys := []string{p.key}
		if eval {
			cmds[i] = pipe.Eval(ctx, gcraScript, keys, l.intArg, l.burstArg, p.want, p.min, p.now)
		} else {
			cmds[i] = pipe.EvalSha(ctx, l.script.Hash(), keys, l.intArg, l.burstArg, p.want, p.min, p.now)
		}
	}
	_, _ = pipe.Exec(ctx)
	return cmds
}

// send runs the script once for one decision: EVALSHA, and EVAL only when
// Redis has lost the script (after a restart or SCRIPT FLUSH), which loads
// it again.
func (l *Limiter) send(ctx context.Context, key string, want, min int64, now any) (reply, error) {
	v, err := l.script.Run(ctx, l.cfg.Client, []string{key}, l.intArg, l.burstArg, want, min, now).Result()
	if err != nil {
		return reply{}, err
	}
	return parseReply(v, want)
}

// nowArgument is the script's now: "-1" (read the server's TIME) unless a
// test set a clock.
func (l *Limiter) nowArgument() any {
	if l.nowArg != nil {
		return strconv.FormatFloat(l.nowArg(), 'f', -1, 64)
	}
	return "-1"
}
