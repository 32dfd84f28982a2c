package a

import (
	"context"
	"errors"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
)

func work() error { return nil }

var errBusy = errors.New("busy")

// Flagged.

func discardedBlank(b *breaker.Breaker) error {
	_, err := b.Allow() // want `the levee.Permit returned by Allow is discarded`
	if err != nil {
		return err
	}
	return work()
}

func discardedStatement(b *breaker.Breaker) {
	b.Allow() // want `the levee.Permit returned by Allow is discarded`
}

func earlyReturn(b *breaker.Breaker, ok bool) error {
	p, err := b.Allow() // want `the levee.Permit p returned by Allow is not settled on all paths`
	if err != nil {
		return err
	}
	if !ok {
		return errBusy // want `this return statement may be reached without settling the permit p`
	}
	err = work()
	p.Done(err)
	return err
}

func settledInSomeCases(ctx context.Context, g levee.Gate, n int) error {
	p, err := g.Acquire(ctx) // want `the levee.Permit p returned by Acquire is not settled on all paths`
	if err != nil {
		return err
	}
	switch n {
	case 0:
		p.Done(nil)
	case 1:
		return work() // want `this return statement may be reached without settling the permit p`
	default:
		g.Release(p, levee.Outcome{})
	}
	return nil
}

func settledOnlyOnError(ctx context.Context, g levee.Gate) {
	p, err := g.Acquire(ctx) // want `the levee.Permit p returned by Acquire is not settled on all paths`
	if err == nil {
		work()
		return // want `this return statement may be reached without settling the permit p`
	}
	p.Done(err)
}

// Clean.

func settled(b *breaker.Breaker) error {
	p, err := b.Allow()
	if err != nil {
		return err
	}
	err = work()
	p.Done(err)
	return err
}

func deferred(ctx context.Context, g levee.Gate) (err error) {
	p, err := g.Acquire(ctx)
	if err != nil {
		return err
	}
	defer func() { g.Release(p, levee.Outcome{Err: err}) }()
	if err := work(); err != nil {
		return err
	}
	return nil
}

func errEqualsNil(b *breaker.Breaker) error {
	p, err := b.Allow()
	if err == nil {
		err = work()
		p.Done(err)
	}
	return err
}

func passedOn(b *breaker.Breaker) (levee.Permit, error) {
	p, err := b.Allow()
	return p, err
}

type call struct{ permit levee.Permit }

func stored(b *breaker.Breaker, c *call) error {
	var err error
	c.permit, err = b.Allow()
	return err
}

func namedResult(b *breaker.Breaker) (p levee.Permit, err error) {
	p, err = b.Allow()
	return
}

func ignoredOnPurpose(b *breaker.Breaker) {
	//leveevet:ignore lostpermit the breaker is in metrics-only mode here
	b.Allow()
}

func holdsNothing(ctx context.Context, l *levee.Limiter) error {
	_, err := l.Acquire(ctx)
	return err
}
