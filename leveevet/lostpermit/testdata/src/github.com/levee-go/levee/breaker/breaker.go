// Package breaker is the part of Levee's breaker the tests need.
package breaker

import (
	"context"

	"github.com/levee-go/levee"
)

type Breaker struct{}

func (b *Breaker) Allow() (levee.Permit, error)                      { return levee.Permit{}, nil }
func (b *Breaker) Acquire(ctx context.Context) (levee.Permit, error) { return b.Allow() }
func (b *Breaker) Release(p levee.Permit, o levee.Outcome)           {}
