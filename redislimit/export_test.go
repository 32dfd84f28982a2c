package redislimit

import (
	"context"
	"time"

	"github.com/levee-go/levee"
)

// SetNowForTest makes l pass now (a reading on any scale) to the script
// instead of letting Redis read its own TIME, so tests can step through
// fixed instants.
func SetNowForTest(l *Limiter, now func() time.Duration) {
	l.nowArg = func() float64 {
		// Whole microseconds first: nanoseconds since 1970 do not fit a
		// float64 exactly.
		d := now()
		return float64(d/time.Microsecond) + float64(d%time.Microsecond)/1e3
	}
}

// ScriptResult is one raw run of the script.
type ScriptResult struct {
	Granted, Remaining     int64
	RetryAfter, ResetAfter time.Duration
}

// RunScriptForTest runs the script once for key, asking for want tokens and
// accepting no fewer than min.
func RunScriptForTest(ctx context.Context, l *Limiter, key string, want, min int64) (ScriptResult, error) {
	r, err := l.roundTrip(ctx, key, want, min, time.Time{})
	return ScriptResult{r.granted, r.remaining, r.retryAfter, r.resetAfter}, err
}

// IntervalForTest returns l's microseconds per token.
func IntervalForTest(l *Limiter) float64 { return l.interval }

// BatchForTest runs the script once for each key in one pipeline, as the
// dispatcher does for a queue, asking for want tokens and accepting no
// fewer than min.
func BatchForTest(ctx context.Context, l *Limiter, keys []string, want, min int64) ([]ScriptResult, []error) {
	batch := make([]*pending, len(keys))
	for i, k := range keys {
		batch[i] = &pending{ctx: ctx, key: l.redisKey(k), want: want, min: min, now: l.nowArgument()}
	}
	l.sendBatch(ctx, batch)
	out := make([]ScriptResult, len(keys))
	errs := make([]error, len(keys))
	for i, p := range batch {
		out[i] = ScriptResult{p.r.granted, p.r.remaining, p.r.retryAfter, p.r.resetAfter}
		errs[i] = p.err
	}
	return out, errs
}

// Source says who made a decision.
type Source = source

const (
	SourceRedis    = sourceRedis
	SourceLease    = sourceLease
	SourceFallback = sourceFallback
	SourceNone     = sourceNone
)

// Decided is a decision and who made it.
type Decided struct {
	levee.Decision
	Source Source
}

// DecideForTest is l.DecideKey(ctx, key), saying who decided.
func DecideForTest(l *Limiter, ctx context.Context, key string) (Decided, error) {
	return DecideNForTest(l, ctx, key, 1)
}

// DecideNForTest is l.DecideKeyN(ctx, key, n), saying who decided.
func DecideNForTest(l *Limiter, ctx context.Context, key string, n int) (Decided, error) {
	d, src, err := l.decide(ctx, key, n)
	return Decided{d, src}, err
}
