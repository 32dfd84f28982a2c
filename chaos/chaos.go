package chaos

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
)

// ErrInjected is the error of a fault made by [Error] with a nil error: a
// generic failure of the simulated dependency.
var ErrInjected = errors.New("chaos: injected fault")

// Config configures an [Injector]. The zero value injects nothing until
// faults are [Injector.Set].
type Config struct {
	// Name labels the injector's events.
	Name string
	// Faults are the faults to inject, tried in order on every call (see
	// [Injector]). Nil means none.
	Faults []Fault
	// Disabled starts the injector switched off; [Injector.Enable] switches
	// it on. False means faults apply from the start.
	Disabled bool
	// Seed makes the injector's random choices repeat from run to run, for
	// tests: a PCG generator seeded with it, shared under a lock. Zero means
	// unseeded: the lock-free top-level generator of math/rand/v2.
	Seed uint64
	// Clock times injected delays and stamps events. Nil means [clock.Real].
	Clock clock.Clock
}

// Fault is one way a call can misbehave: a delay, an ending (an error, an
// adapter status, or a panic), or a delay followed by an ending. Build one
// with [Latency], [LatencyRange], [Error], [HTTPStatus], [GRPCCode] or
// [Panic], and narrow it with [Fault.When]; or fill the fields directly.
type Fault struct {
	// Percent is the chance, in percent, that a matching call gets the
	// fault: 100 hits every call, 0.5 one call in 200. Zero means never, so
	// that a fault whose rate was left out injects nothing; outside 0..100
	// is refused.
	Percent float64
	// Match limits the fault to the calls whose context it accepts (see
	// [MatchValue] and [MatchTag]). Nil means every call. It runs on every
	// call while the injector is on, so keep it cheap.
	Match func(ctx context.Context) bool
	// Delay holds the call back for this long before it runs (or before the
	// fault's ending), on the injector's clock; the caller's context
	// interrupts it. Zero means no delay; negative is refused.
	Delay time.Duration
	// DelayMax, when above Delay, makes the delay uniform in
	// [Delay, DelayMax]. Zero means a fixed delay; a positive value below
	// Delay is refused.
	DelayMax time.Duration
	// Err ends the call with this error without running it. Use a
	// [*StatusError] for an HTTP status or gRPC code that adapters answer
	// with. Nil means no error.
	Err error
	// Panic ends the call as if it had panicked with this value: Acquire
	// returns a [*levee.PanicError], which outer gates record as a failure
	// and [levee.Do] re-raises or returns as the pipeline is configured. Nil
	// means no panic; setting both Err and Panic is refused.
	Panic any
}

// Latency returns a fault that delays percent of calls by d.
func Latency(percent float64, d time.Duration) Fault {
	return Fault{Percent: percent, Delay: d}
}

// LatencyRange returns a fault that delays percent of calls by a uniformly
// random duration in [lo, hi].
func LatencyRange(percent float64, lo, hi time.Duration) Fault {
	return Fault{Percent: percent, Delay: lo, DelayMax: hi}
}

// Error returns a fault that fails percent of calls with err, or with
// [ErrInjected] when err is nil.
func Error(percent float64, err error) Fault {
	if err == nil {
		err = ErrInjected
	}
	return Fault{Percent: percent, Err: err}
}

// HTTPStatus returns a fault that answers percent of calls with an HTTP
// status (a [*StatusError]); code must be in 400..599.
func HTTPStatus(percent float64, code int) Fault {
	return Fault{Percent: percent, Err: &StatusError{HTTP: code}}
}

// GRPCCode returns a fault that answers percent of calls with a gRPC status
// code (a [*StatusError]); code must be in 1..16.
func GRPCCode(percent float64, code uint32) Fault {
	return Fault{Percent: percent, Err: &StatusError{GRPC: code}}
}

// Panic returns a fault that makes percent of calls panic with v.
func Panic(percent float64, v any) Fault {
	return Fault{Percent: percent, Panic: v}
}

// When returns a copy of f that applies only to calls whose context match
// accepts. A fault that already has a match needs both to accept.
func (f Fault) When(match func(ctx context.Context) bool) Fault {
	if prev := f.Match; prev != nil && match != nil {
		f.Match = func(ctx context.Context) bool { return prev(ctx) && match(ctx) }
	} else if match != nil {
		f.Match = match
	}
	return f
}

// Injector is a [levee.Gate] that injects faults: it stands in for a
// misbehaving dependency, so that tests and game days can see how the
// policies around it and the service cope. Its stage, [levee.StageChaos],
// puts it innermost, next to the call.
//
// On every call [Injector.Acquire] tries the faults in order. A fault
// applies when its Match accepts the call's context and a random draw falls
// within its Percent. Delays of the faults that apply add up; the first
// fault with an ending (an error, a status or a panic) that applies ends
// the call after the delay, and later faults are not tried. With a seed
// (see [Config.Seed]) the draws repeat: one draw per matching fault whose
// Percent is strictly between 0 and 100, and one per ranged delay.
//
// The faults can be switched off and on and replaced while calls run,
// without rebuilding the pipeline. When the injector is off or has no
// faults, Acquire costs one atomic load. Events: [levee.EventInfo] for each
// injection, with Reason "chaos:delay", "chaos:error", "chaos:abort" (a
// [*StatusError]) or "chaos:panic".
//
// All methods are safe for concurrent use. The zero Injector is off and has
// no faults; Set and Enable make it inject, on the real clock.
type Injector struct {
	active atomic.Pointer[faultSet] // nil when off or empty: the only load on the off path

	name string
	clk  clock.Clock

	mu      sync.Mutex // guards set and enabled, and serialises switching
	set     *faultSet
	enabled bool

	rngMu sync.Mutex
	rng   *rand.Rand // nil: use the top-level generator

	listeners levee.Listeners
}

type faultSet struct {
	faults []fault
	src    []Fault // as given, for Faults
}

// fault is a validated Fault with what the hot path needs precomputed.
type fault struct {
	Fault
	always bool    // Percent 100: no draw
	prob   float64 // Percent/100
	spread int64   // DelayMax-Delay in ns when ranged, else 0
	reason string  // of the ending's event
}

// New returns an injector configured by cfg, or an error naming the first
// invalid fault field.
func New(cfg Config) (*Injector, error) {
	set, err := compile(cfg.Faults)
	if err != nil {
		return nil, err
	}
	in := &Injector{name: cfg.Name, clk: clock.Or(cfg.Clock), set: set, enabled: !cfg.Disabled}
	if cfg.Seed != 0 {
		in.rng = rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	}
	in.publishLocked()
	return in, nil
}

func compile(faults []Fault) (*faultSet, error) {
	if len(faults) == 0 {
		return nil, nil
	}
	s := &faultSet{faults: make([]fault, len(faults)), src: append([]Fault(nil), faults...)}
	for i, f := range faults {
		field := func(name string) string { return fmt.Sprintf("chaos: Faults[%d].%s", i, name) }
		switch {
		case math.IsNaN(f.Percent) || f.Percent < 0 || f.Percent > 100:
			return nil, fmt.Errorf("%s = %v, want 0..100", field("Percent"), f.Percent)
		case f.Delay < 0:
			return nil, fmt.Errorf("%s = %v, want >= 0", field("Delay"), f.Delay)
		case f.DelayMax < 0 || (f.DelayMax > 0 && f.DelayMax < f.Delay):
			return nil, fmt.Errorf("%s = %v, want 0 or >= Delay (%v)", field("DelayMax"), f.DelayMax, f.Delay)
		case f.Err != nil && f.Panic != nil:
			return nil, fmt.Errorf("%s: both Err and Panic are set, want at most one", field("Err"))
		}
		c := fault{Fault: f, always: f.Percent == 100, prob: f.Percent / 100}
		if f.DelayMax > f.Delay {
			c.spread = int64(f.DelayMax - f.Delay)
		}
		var se *StatusError
		switch {
		case f.Panic != nil:
			c.reason = "chaos:panic"
		case errors.As(f.Err, &se):
			if err := se.validate(); err != nil {
				return nil, fmt.Errorf("%s: %w", field("Err"), err)
			}
			c.reason = "chaos:abort"
		case f.Err != nil:
			c.reason = "chaos:error"
		}
		s.faults[i] = c
	}
	return s, nil
}

// Stage returns [levee.StageChaos].
func (in *Injector) Stage() levee.Stage { return levee.StageChaos }

// OnEvent registers a listener for the injector's events, one
// [levee.EventInfo] per injected fault: Reason says which kind, Wait is an
// injected delay, Err an injected error or [*levee.PanicError], Value the
// fault's Percent.
func (in *Injector) OnEvent(fn levee.Listener) (remove func()) { return in.listeners.Add(fn) }

// Enable switches fault injection on.
func (in *Injector) Enable() { in.setEnabled(true) }

// Disable switches fault injection off: calls pass untouched, at the cost
// of one atomic load. Calls already delayed finish their delay.
func (in *Injector) Disable() { in.setEnabled(false) }

func (in *Injector) setEnabled(on bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.enabled = on
	in.publishLocked()
}

// Enabled reports whether fault injection is switched on.
func (in *Injector) Enabled() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.enabled
}

// Set replaces the faults, at once for every later call, and leaves the
// on/off switch as it is. Invalid faults are refused with an error naming
// the field, and the current faults stay. Set() with no faults clears them.
func (in *Injector) Set(faults ...Fault) error {
	set, err := compile(faults)
	if err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.set = set
	in.publishLocked()
	return nil
}

// Faults returns a copy of the current faults, whether or not the injector
// is on.
func (in *Injector) Faults() []Fault {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.set == nil {
		return nil
	}
	return append([]Fault(nil), in.set.src...)
}

func (in *Injector) publishLocked() {
	if in.enabled && in.set != nil {
		in.active.Store(in.set)
	} else {
		in.active.Store(nil)
	}
}

// Acquire injects the faults that apply to the call (see [Injector]). It
// returns the injected error, a [*levee.PanicError] for an injected panic,
// or the context's error when the context ends during an injected delay;
// otherwise it admits the call with a permit that needs no settling (the
// zero [levee.Permit]). Code that calls Acquire directly, outside
// [levee.Do], should treat a [*levee.PanicError] as Do does: record the
// failure with outer gates, then panic with its Value or report it.
func (in *Injector) Acquire(ctx context.Context) (levee.Permit, error) {
	s := in.active.Load()
	if s == nil {
		return levee.Permit{}, nil
	}
	return levee.Permit{}, in.inject(ctx, s)
}

func (in *Injector) inject(ctx context.Context, s *faultSet) error {
	var delay time.Duration
	var end *fault
	for i := range s.faults {
		f := &s.faults[i]
		if f.Match != nil && !f.Match(ctx) {
			continue
		}
		if !f.always && (f.prob == 0 || in.float64() >= f.prob) {
			continue
		}
		if d := f.Delay + time.Duration(in.int64n(f.spread)); d > 0 {
			delay += d
			in.emit("chaos:delay", f, d, nil)
		}
		if f.reason != "" {
			end = f
			break
		}
	}
	if delay > 0 && !clock.Sleep(clock.Or(in.clk), delay, ctx.Done()) {
		return ctx.Err()
	}
	if end == nil {
		return nil
	}
	var err error
	if end.Panic != nil {
		err = levee.NewPanicError(end.Panic)
	} else {
		err = end.Err
	}
	in.emit(end.reason, end, 0, err)
	return err
}

func (in *Injector) emit(reason string, f *fault, wait time.Duration, err error) {
	if in.listeners.Active() {
		in.listeners.Emit(levee.Event{Kind: levee.EventInfo, Policy: "chaos", Name: in.name,
			Time: clock.Or(in.clk).Now(), Reason: reason, Value: f.Percent, Wait: wait, Err: err})
	}
}

func (in *Injector) float64() float64 {
	if in.rng == nil {
		return rand.Float64()
	}
	in.rngMu.Lock()
	defer in.rngMu.Unlock()
	return in.rng.Float64()
}

// int64n returns a uniform value in [0, n], or 0 without a draw when n is 0.
func (in *Injector) int64n(n int64) int64 {
	if n <= 0 {
		return 0
	}
	if n == math.MaxInt64 {
		n-- // keep n+1 positive; a nanosecond off on a 292-year range
	}
	if in.rng == nil {
		return rand.Int64N(n + 1)
	}
	in.rngMu.Lock()
	defer in.rngMu.Unlock()
	return in.rng.Int64N(n + 1)
}

var _ levee.Gate = (*Injector)(nil)
