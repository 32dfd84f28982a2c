package levee

import (
	"context"
	"errors"
	"fmt"
	"reflect"
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
	kindFallback // a Fallback[T]; its T is checked by Do
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
// [Stage]) with the default configuration. Nil policies are skipped.
//
// New is for policies listed in the code, whose fit is known when it is
// written: like [regexp.MustCompile], it panics, naming the policy's type,
// when a policy implements none of the execution protocols. Build a
// pipeline from policies chosen at run time with [NewPipeline], which
// returns that mistake as an error.
func New(policies ...Policy) *Pipeline {
	p, err := NewPipeline(Config{}, policies...)
	if err != nil {
		panic(err.Error())
	}
	return p
}

// NewPipeline returns a pipeline of the given policies configured by cfg.
// Nil policies are skipped. A policy that implements none of the execution
// protocols ([Gate], [Retrier], [Scoper], [Wrapper], [Fallback]) could
// never run a call: NewPipeline refuses it with an error that matches
// [ErrPolicyType] and names the policy's position and type.
func NewPipeline(cfg Config, policies ...Policy) (*Pipeline, error) {
	type entry struct {
		pol Policy
		at  int // position in policies, for errors
	}
	ps := make([]entry, 0, len(policies))
	for i, p := range policies {
		if p != nil {
			ps = append(ps, entry{p, i})
		}
	}
	if !cfg.KeepOrder {
		slices.SortStableFunc(ps, func(a, b entry) int { return int(a.pol.Stage() - b.pol.Stage()) })
	}
	p := &Pipeline{cfg: cfg, steps: make([]step, len(ps))}
	for i, e := range ps {
		s := step{policy: e.pol}
		switch v := e.pol.(type) {
		case Gate:
			s.kind, s.gate = kindGate, v
		case Retrier:
			s.kind, s.retrier = kindRetry, v
		case Scoper:
			s.kind, s.scoper = kindScope, v
		case Wrapper:
			s.kind, s.wrapper = kindWrap, v
		default:
			if !isFallback(reflect.TypeOf(v)) {
				return nil, fmt.Errorf("%w: policy %d (%T) implements none of Gate, Retrier, Scoper, Wrapper or Fallback[T]",
					ErrPolicyType, e.at, v)
			}
			s.kind = kindFallback
		}
		p.steps[i] = s
	}
	return p, nil
}

var (
	contextType = reflect.TypeFor[context.Context]()
	errorType   = reflect.TypeFor[error]()
)

// isFallback reports whether t has the method of [Fallback] for some T:
// Fallback(context.Context, T, error) (T, error). T is known only when a
// call runs, so this is the check that can be made when the pipeline is
// built; [Do] checks T.
func isFallback(t reflect.Type) bool {
	m, ok := t.MethodByName("Fallback")
	if !ok {
		return false
	}
	f := m.Type // the receiver is its first parameter
	return f.NumIn() == 4 && f.NumOut() == 2 && !f.IsVariadic() &&
		f.In(1) == contextType && f.In(3) == errorType &&
		f.Out(0) == f.In(2) && f.Out(1) == errorType
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

// ErrPolicyType is matched by the error [NewPipeline] returns for a policy
// that implements no execution protocol, and by the error [Do] returns when
// a pipeline holds a [Fallback] for another result type than the call's.
var ErrPolicyType = errors.New("levee: policy does not fit the call's type")

// ErrZeroNext is returned by the zero [Next]: a [Wrapper] can run the rest
// of a pipeline only through the Next the pipeline hands to Execute.
var ErrZeroNext = errors.New("levee: zero Next: use the Next a pipeline passes to Execute")

// Do runs fn through the pipeline p and returns its result, or the first
// rejection or replacement the policies made. A nil p runs fn with panic
// recovery only.
//
// Gates, retries, time limits and fallbacks run without heap allocation of
// their own, and the pipeline adds none around a [Wrapper]: what a wrapper
// costs is its own (a hedge, two allocations when no hedge starts).
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
		out, err := s.wrapper.Execute(ctx, Next{p: p, fn: fn, i: i + 1, r: runnerOf[T]{}})
		v, _ := out.(T)
		return v, err

	default: // kindFallback
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
					Time: clock.Or(p.cfg.Clock).Now(), Err: pe, Context: ctx})
			}
			var zero T
			v, err = zero, pe
		}
	}()
	return fn(ctx)
}

// runnerOf runs the rest of a pipeline of calls of type T for a [Next].
type runnerOf[T any] struct{}

// runFrom runs the pipeline p from step i; fn is the call.
func (runnerOf[T]) runFrom(ctx context.Context, p *Pipeline, i int, fn any) (any, error) {
	return run(ctx, p, i, fn.(func(context.Context) (T, error)))
}
