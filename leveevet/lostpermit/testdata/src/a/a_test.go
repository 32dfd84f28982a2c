package a

import "github.com/levee-go/levee/breaker"

func probe(b *breaker.Breaker) bool {
	_, err := b.Allow()
	return err == nil
}
