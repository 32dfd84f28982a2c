package fallback

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
)

// Config configures a [Chain]. The zero value is ready to use.
type Config struct {
	// Name labels the policy's events.
	Name string
	// Triggers is the set of outcomes that make the chain use its steps.
	// Zero means [DefaultTriggers]: any failure and any rejection.
	Triggers Trigger
	// Classifier decides which errors are failures, for [OnFailure]. Nil
	// means [levee.DefaultClassifier]. Use the pipeline's classifier here
	// when it has its own.
	Classifier levee.Classifier
	// Clock stamps events. Nil means [clock.Real].
	Clock clock.Clock
}

type stepKind uint8

const (
	stepValue stepKind = iota + 1
	stepFunc
	stepStale
)

func (k stepKind) String() string {
	switch k {
	case stepValue:
		return "value"
	case stepFunc:
		return "func"
	case stepStale:
		return "stale"
	}
	return "unknown"
}

// Step is one fallback in a [Chain]: a fixed [Value], a [Func] computing a
// replacement, or the [Stale] last good result from a [Cache].
type Step[T any] struct {
	kind  stepKind
	value T
	fn    func(ctx context.Context, err error) (T, error)
	cache *Cache[T]
}

// Value returns a step that answers with v.
func Value[T any](v T) Step[T] { return Step[T]{kind: stepValue, value: v} }

// Func returns a step that answers with fn's result, given the error it
// replaces. fn may call another dependency, through a pipeline of its own. If
// fn returns an error the chain moves on to its next step.
func Func[T any](fn func(ctx context.Context, err error) (T, error)) Step[T] {
	return Step[T]{kind: stepFunc, fn: fn}
}

// Stale returns a step that answers with the last good result that the
// chain stored in c for the call's key, if there is one young enough. The
// chain stores every successful result in c.
func Stale[T any](c *Cache[T]) Step[T] { return Step[T]{kind: stepStale, cache: c} }

// Chain replaces a call's failure with a fallback: when the call's error
// matches the chain's triggers, it tries its steps in order and answers with
// the first that gives a result. It implements [levee.Fallback] for results
// of type T; its stage, [levee.StageFallback], puts it outermost, so it sees
// what retries, breakers, limits and time limits made of the call. One Chain
// serves any number of goroutines.
//
// When every step misses or fails, the caller gets the original error,
// joined with the last step's error if a [Func] failed.
//
// The zero Chain has no steps: it passes every result through unchanged.
type Chain[T any] struct {
	name      string
	triggers  Trigger
	classify  levee.Classifier
	clk       clock.Clock
	steps     []Step[T]
	caches    []*Cache[T]
	listeners levee.Listeners
}

// New returns a chain of the given steps, or an error if there are none or
// one is empty.
func New[T any](cfg Config, steps ...Step[T]) (*Chain[T], error) {
	if len(steps) == 0 {
		return nil, errors.New("fallback: New: no steps, want at least one")
	}
	if cfg.Triggers&^OnAny != 0 {
		return nil, fmt.Errorf("fallback: Config.Triggers = %#x, want a set of the On... triggers", uint16(cfg.Triggers))
	}
	if cfg.Triggers == 0 {
		cfg.Triggers = DefaultTriggers
	}
	c := &Chain[T]{name: cfg.Name, triggers: cfg.Triggers, classify: cfg.Classifier, clk: clock.Or(cfg.Clock),
		steps: append([]Step[T](nil), steps...)}
	for i, s := range steps {
		switch {
		case s.kind == 0:
			return nil, fmt.Errorf("fallback: New: step %d is empty, want Value, Func or Stale", i)
		case s.kind == stepFunc && s.fn == nil:
			return nil, fmt.Errorf("fallback: New: step %d is Func(nil)", i)
		case s.kind == stepStale && s.cache == nil:
			return nil, fmt.Errorf("fallback: New: step %d is Stale(nil)", i)
		case s.kind == stepStale:
			c.caches = append(c.caches, s.cache)
		}
	}
	return c, nil
}

// Stage returns [levee.StageFallback].
func (c *Chain[T]) Stage() levee.Stage { return levee.StageFallback }

// OnEvent registers a listener for the policy's events: an
// [levee.EventFallback] each time a step replaces a result, with Reason the
// trigger ("failure", "timeout", "open", ...), To the step ("value", "func",
// "stale"), Err the replaced error, and for a stale result Wait its age.
func (c *Chain[T]) OnEvent(fn levee.Listener) (remove func()) { return c.listeners.Add(fn) }

// Fallback returns v, nil for a success (storing v in the chain's caches),
// the first result a step gives for an error that matches the triggers, and
// v, err otherwise.
func (c *Chain[T]) Fallback(ctx context.Context, v T, err error) (T, error) {
	if err == nil {
		for _, cache := range c.caches {
			cache.Put(ctx, v)
		}
		return v, nil
	}
	reason, ok := c.triggers.Match(err, c.classify.Classify(err))
	if !ok {
		return v, err
	}
	var stepErr error
	for _, s := range c.steps {
		switch s.kind {
		case stepValue:
			c.emit(reason, s.kind, err, 0)
			return s.value, nil
		case stepFunc:
			fv, ferr := s.fn(ctx, err)
			if ferr == nil {
				c.emit(reason, s.kind, err, 0)
				return fv, nil
			}
			stepErr = ferr
		case stepStale:
			if sv, age, ok := s.cache.Get(ctx); ok {
				c.emit(reason, s.kind, err, age)
				return sv, nil
			}
		}
	}
	if stepErr != nil {
		return v, errors.Join(err, stepErr)
	}
	return v, err
}

func (c *Chain[T]) emit(reason string, k stepKind, err error, age time.Duration) {
	if c.listeners.Active() {
		c.listeners.Emit(levee.Event{Kind: levee.EventFallback, Policy: "fallback", Name: c.name, Time: c.clk.Now(),
			Reason: reason, To: k.String(), Err: err, Wait: age})
	}
}

var _ levee.Fallback[int] = (*Chain[int])(nil)
