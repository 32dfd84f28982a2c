package redislimit

import (
	"context"

	"github.com/levee-go/levee"
)

// DecideKeyNFallback is [Limiter.DecideKeyN] that also reports whether the
// configured [Fallback] made the decision because Redis could not answer.
// A gateway uses it to tell the client, per response, that the limit it
// sees is the local stand-in rather than the shared one: the limiter's
// state ([Limiter.UsingFallback]) changes only after FailureThreshold
// failures, and [Limiter.Fallbacks] is shared by concurrent callers, so
// neither can say which decision was whose. It does not allocate more than
// DecideKeyN.
func (l *Limiter) DecideKeyNFallback(ctx context.Context, key string, n int) (d levee.Decision, fallback bool, err error) {
	d, src, err := l.decide(ctx, key, n)
	return d, src == sourceFallback, err
}
