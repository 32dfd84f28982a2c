package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/levee-go/levee"
)

// ErrExceedsBurst is returned by [TokenBucket.WaitN] for a request of more
// tokens than the burst: no wait would ever satisfy it.
var ErrExceedsBurst = errors.New("ratelimit: request exceeds burst")

// TokenBucket is a token bucket of capacity Burst refilled at Rate: a call
// takes tokens if the bucket holds enough, and the bucket starts full.
//
// Most callers want [TokenBucket.Allow] (drop or refuse what does not fit),
// or [TokenBucket.Wait] (pace work to the rate); [TokenBucket.Reserve] tells
// how long to wait without waiting. Each has an …N form for n tokens and an
// …At form that takes the current time as a [clock.Clock.Nanotime] reading,
// so tests step through fixed instants without sleeping.
//
// The bucket is kept as one timestamp, the instant it will be full again
// (see [GCRA] for the arithmetic): it holds (now + Burst·T − full)/T
// tokens. Taking is a compare-and-swap on that word, in integer
// nanoseconds, so Allow is lock-free and does not allocate. Unlike GCRA,
// reservations and waits may push the timestamp beyond now + Burst·T: a
// waiting caller owns its future tokens.
//
// With [Config.WarmUp] a cold bucket charges more per token (see [Config]).
//
// A TokenBucket is safe for concurrent use. Make one with
// [NewTokenBucket]: the zero value has no clock and no rate, so it refuses
// every call (Allow false, Decide a refusal with RetryAfter [levee.Never],
// a reservation that is not OK) and its methods that return an error return
// [ErrNotNew].
type TokenBucket struct{ core }

// NewTokenBucket returns a token bucket configured by cfg, or an error
// naming the invalid field.
func NewTokenBucket(cfg Config) (*TokenBucket, error) {
	b := &TokenBucket{}
	if err := b.init(cfg); err != nil {
		return nil, err
	}
	return b, nil
}

// Reservation holds tokens taken ahead of time: the caller may act after
// [Reservation.Delay], or give them back with [Reservation.Cancel]. It is a
// small value; keep it in a variable and cancel it at most once.
type Reservation struct {
	c    *core
	ok   bool
	cost int64 // nanoseconds of bucket charged (n × interval)
	act  int64 // Nanotime at which the tokens may be used
	tat  int64 // the bucket's timestamp right after this reservation
}

// OK reports whether the reservation holds its tokens. A reservation for
// more than the burst is not OK.
func (r *Reservation) OK() bool { return r.ok }

// Delay returns how long to wait before acting, or [levee.Never] when the
// reservation is not OK.
func (r *Reservation) Delay() time.Duration {
	if !r.ok {
		return levee.Never
	}
	if r.c == nil {
		return 0
	}
	return r.DelayFrom(r.c.clk.Nanotime())
}

// DelayFrom is Delay measured from now, a Nanotime reading.
func (r *Reservation) DelayFrom(now int64) time.Duration {
	if !r.ok {
		return levee.Never
	}
	return time.Duration(max(r.act-now, 0))
}

// Cancel gives the tokens back if they have not been used yet: the tokens
// reserved after this one keep their places, and what is left of this
// reservation is returned to the bucket.
func (r *Reservation) Cancel() {
	if r.c != nil {
		r.CancelAt(r.c.clk.Nanotime())
	}
}

// CancelAt is Cancel at now, a Nanotime reading.
func (r *Reservation) CancelAt(now int64) {
	if !r.ok || r.cost == 0 || r.c == nil || r.act <= now {
		return
	}
	c := r.c
	for {
		tat := c.tat.Load()
		// Tokens reserved after this one cannot move; give back the rest.
		restore := r.cost - max(tat-r.tat, 0)
		if restore <= 0 {
			break
		}
		if c.tat.CompareAndSwap(tat, tat-restore) {
			break
		}
	}
	r.cost = 0
}

// Reserve reserves one token now; see [TokenBucket.ReserveNAt].
func (b *TokenBucket) Reserve() Reservation { return b.ReserveN(1) }

// ReserveN reserves n tokens now; see [TokenBucket.ReserveNAt].
func (b *TokenBucket) ReserveN(n int) Reservation {
	if p := b.p.Load(); p != nil {
		return b.reserve(p, b.clk.Nanotime(), n)
	}
	return Reservation{}
}

// ReserveAt reserves one token at now; see [TokenBucket.ReserveNAt].
func (b *TokenBucket) ReserveAt(now int64) Reservation { return b.ReserveNAt(now, 1) }

// ReserveNAt takes n tokens at now (a Nanotime reading) however long they
// take to accrue, and says when they may be used. It never waits. A request
// for more than the burst, or to a bucket [NewTokenBucket] did not make,
// returns a reservation that is not OK and takes nothing.
func (b *TokenBucket) ReserveNAt(now int64, n int) Reservation {
	if p := b.p.Load(); p != nil {
		return b.reserve(p, now, n)
	}
	return Reservation{}
}

func (b *TokenBucket) reserve(p *params, now int64, n int) Reservation {
	if p.interval == 0 || n <= 0 {
		return Reservation{c: &b.core, ok: true, act: now}
	}
	if int64(n) > p.burst {
		return Reservation{c: &b.core}
	}
	t := b.take(p, now, int64(n), maxSpan)
	if !t.ok {
		return Reservation{c: &b.core}
	}
	return Reservation{c: &b.core, ok: true, cost: t.tat - t.base, act: now + t.wait, tat: t.tat}
}

// Wait waits for one token; see [TokenBucket.WaitN].
func (b *TokenBucket) Wait(ctx context.Context) error { return b.WaitN(ctx, 1) }

// WaitN waits until n tokens are available, on the limiter's clock, and
// takes them. It returns ctx's error if ctx ends first (and gives the tokens
// back), [ErrExceedsBurst] for n above the burst, and, at once and without
// taking anything, a rejection matching [levee.ErrLimited] whose
// [levee.RetryAfter] is the wait when that wait would pass ctx's deadline.
// A bucket [NewTokenBucket] did not make returns [ErrNotNew].
func (b *TokenBucket) WaitN(ctx context.Context, n int) error {
	p := b.p.Load()
	if p == nil {
		return ErrNotNew
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	default:
	}
	if p.interval == 0 || n <= 0 {
		return nil
	}
	if int64(n) > p.burst {
		return fmt.Errorf("%w: %d tokens, burst %d", ErrExceedsBurst, n, p.burst)
	}
	now := b.clk.Nanotime()
	limit := maxSpan
	if dl, ok := ctx.Deadline(); ok {
		// A token free now is taken even at the deadline.
		limit = max(int64(dl.Sub(b.clk.Now())), 0)
	}
	t := b.take(p, now, int64(n), limit)
	if !t.ok {
		return fmt.Errorf("ratelimit: a wait of %v would pass the context deadline: %w",
			time.Duration(t.wait), levee.Reject(levee.ErrLimited, time.Duration(t.wait)))
	}
	if t.wait == 0 {
		return nil
	}
	r := Reservation{c: &b.core, ok: true, cost: t.tat - t.base, act: now + t.wait, tat: t.tat}
	timer := b.clk.NewTimer(time.Duration(t.wait))
	select {
	case <-timer.C():
		return nil
	case <-ctx.Done():
		timer.Stop()
		r.Cancel()
		return ctx.Err()
	}
}

var _ levee.Gate = (*TokenBucket)(nil)
