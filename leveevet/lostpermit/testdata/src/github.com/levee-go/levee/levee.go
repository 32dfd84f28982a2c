// Package levee is the part of Levee's root package the tests need.
package levee

import "context"

type Outcome struct{ Err error }

type Permit struct{ token uint64 }

func (p Permit) Done(err error)   {}
func (p Permit) Record(o Outcome) {}

type Gate interface {
	Acquire(ctx context.Context) (Permit, error)
	Release(p Permit, o Outcome)
}

// Limiter's permits hold nothing: it has no Release method.
type Limiter struct{}

func (l *Limiter) Acquire(ctx context.Context) (Permit, error) { return Permit{}, nil }
