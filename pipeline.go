package levee

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/levee-go/levee/clock"
)

// Config configures a [Pipeline]. The zero value is ready to use.
type Config struct {
	// Name labels the pipeline's events.
	Name string
	// Classifier decides each call's [Result]. Nil means [DefaultClassifier].
	Classifier Classifier
	// KeepOrder keeps the policies in the order given, outermost first,
	// instead of sorting them by [Stage].
	KeepOrder bool
	// ReturnPanics returns a panic in the call as a [*PanicError] instead of
	// re-raising it. Either way the panic is first recorded as a failure by
	// every gate it passes and emitted as an [EventPanic]. When re-raised,
	// retries and fallbacks do not act on it.
	ReturnPanics bool
	// Clock stamps the pipeline's events. Nil means [clock.Real].
	Clock clock.Clock
}

// Pipeline is a fixed composition of policies, built once and reused by any
// number of goroutines. Run calls through it with [Do] or [Pipeline.Run].
type Pipeline struct {
	cfg       Config
	steps     []step
	listeners Listeners
}

type stepKind uint8

const (
	kindGate stepKind = iota
	kindRetry
	kindScope
	kindWrap
	kindOther // a Fallback[T]; its T is checked by Do
)

type step struct {
	kind    stepKind
	policy  Policy
	gate    Gate
	retrier Retrier
	scoper  Scoper
	wrapper Wrapper
}

// New returns a pipeline of the given policies in the default order (see
// [Stage]) with the default configuration.
func New(policies ...Policy) *Pipeline { return NewPipeline(Config{}, policies...) }

// NewPipeline returns a pipeline of the given policies configured by cfg.
// Nil policies are skipped.
func NewPipeline(cfg Config, policies ...Policy) *Pipeline {
	ps := make([]Policy, 0, len(policies))
	for _, p := range policies {
		if p != nil {
			ps = append(ps, p)
		}
	}
	if !cfg.KeepOrder {
		slices.SortStableFunc(ps, func(a, b Policy) int { return int(a.Stage() - b.Stage()) })
	}
	p := &Pipeline{cfg: cfg, steps: make([]step, len(ps))}
	for i, pol := range ps {
		s := step{policy: pol}
		switch v := pol.(type) {
		case Gate:
			s.kind, s.gate = kindGate, v
		case Retrier:
			s.kind, s.retrier = kindRetry, v
		case Scoper:
			s.kind, s.scoper = kindScope, v
		case Wrapper:
			s.kind, s.wrapper = kindWrap, v
		default:
			s.kind = kindOther
		}
		p.steps[i] = s
	}
	return p
}

// Policies returns the pipeline's policies, outermost first.
func (p *Pipeline) Policies() []Policy {
	out := make([]Policy, len(p.steps))
	for i, s := range p.steps {
		out[i] = s.policy
	}
	return out
}

// OnEvent registers a listener for the pipeline's own events (panics).
func (p *Pipeline) OnEvent(fn Listener) (remove func()) { return p.listeners.Add(fn) }

// Run calls fn through the pipeline.
func (p *Pipeline) Run(ctx context.Context, fn func(context.Context) error) error {
	_, err := Do(ctx, p, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) })
	return err
}

// ErrPolicyType is returned by [Do] when a pipeline holds a policy that
// cannot run a call of the requested type: a [Fallback] for another result
// type, or a value implementing no protocol.
var ErrPolicyType = errors.New("levee: policy does not fit the call's type")

// Do runs fn through the pipeline p and returns its result, or the first
// rejection or replacement the policies made. A nil p runs fn with panic
// recovery only.
//
// Gates, retries, time limits and fallbacks run without heap allocation of
// their own; a [Wrapper] costs one allocation per call.
func Do[T any](ctx context.Context, p *Pipeline, fn func(context.Context) (T, error)) (T, error) {
	if p == nil {
		p = &nilPipeline
	}
	v, err := run(ctx, p, 0, fn)
	if err != nil && !p.cfg.ReturnPanics {
		if pe, ok := errors.AsType[*PanicError](err); ok {
			panic(pe.Value)
		}
	}
	return v, err
}

var nilPipeline Pipeline

func (p *Pipeline) classify(err error) Result { return p.cfg.Classifier.Classify(err) }

// stopOnPanic reports whether wrappers must let err through untouched: a
// panic that will be re-raised.
func (p *Pipeline) stopOnPanic(err error) bool {
	if err == nil || p.cfg.ReturnPanics {
		return false
	}
	_, ok := errors.AsType[*PanicError](err)
	return ok
}

func run[T any](ctx context.Context, p *Pipeline, i int, fn func(context.Context) (T, error)) (T, error) {
	if i == len(p.steps) {
		return call(ctx, p, fn)
	}
	s := &p.steps[i]
	switch s.kind {
	case kindGate:
		permit, err := s.gate.Acquire(ctx)
		if err != nil {
			var zero T
			return zero, err
		}
		v, err := run(ctx, p, i+1, fn)
		permit.Record(Outcome{Result: p.classify(err), Err: err})
		return v, err

	case kindRetry:
		var delay time.Duration
		for n := 1; ; n++ {
			v, err := run(ctx, p, i+1, fn)
			if p.stopOnPanic(err) {
				return v, err
			}
			d := s.retrier.Attempted(ctx, Attempt{N: n, Err: err, Result: p.classify(err), Delay: delay})
			if !d.Retry {
				if d.Err != nil {
					err = d.Err
				}
				return v, err
			}
			if werr := s.retrier.Wait(ctx, d.Delay); werr != nil {
				return v, errors.Join(werr, err)
			}
			delay = d.Delay
		}

	case kindScope:
		sctx, cancel := s.scoper.Enter(ctx)
		v, err := run(sctx, p, i+1, fn)
		err = s.scoper.Exit(ctx, sctx, err)
		cancel()
		return v, err

	case kindWrap:
		r := &runner[T]{p: p, fn: fn}
		out, err := s.wrapper.Execute(ctx, Next{r: r, i: i + 1})
		v, _ := out.(T)
		return v, err

	default:
		fb, ok := s.policy.(Fallback[T])
		if !ok {
			var zero T
			return zero, fmt.Errorf("%w: %T in a pipeline running %T", ErrPolicyType, s.policy, zero)
		}
		v, err := run(ctx, p, i+1, fn)
		if p.stopOnPanic(err) {
			return v, err
		}
		return fb.Fallback(ctx, v, err)
	}
}

func call[T any](ctx context.Context, p *Pipeline, fn func(context.Context) (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			pe := NewPanicError(r)
			if p.listeners.Active() {
				p.listeners.Emit(Event{Kind: EventPanic, Policy: "pipeline", Name: p.cfg.Name,
					Time: clock.Or(p.cfg.Clock).Now(), Err: pe})
			}
			var zero T
			v, err = zero, pe
		}
	}()
	return fn(ctx)
}

type runner[T any] struct {
	p  *Pipeline
	fn func(context.Context) (T, error)
}

func (r *runner[T]) runFrom(ctx context.Context, i int) (any, error) {
	return run(ctx, r.p, i, r.fn)
}
