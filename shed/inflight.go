package shed

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/internal/settle"
)

// InFlightConfig configures an [InFlight] shedder.
type InFlightConfig struct {
	// Name labels the shedder's events.
	Name string
	// Max is the number of calls in flight at which shedding starts: a
	// SHEDDABLE call that finds Max calls in flight is refused. Required,
	// at least 1.
	Max int
	// Headroom is how far, as a multiple of Max, the most critical level
	// subject to shedding may fill: CRITICAL is refused only at
	// Headroom·Max calls in flight (CRITICAL_PLUS, when ShedCriticalPlus is
	// set), and the levels between are spaced evenly from Max. Zero means
	// 2; values below 1 are refused.
	Headroom float64
	// ShedCriticalPlus subjects CRITICAL_PLUS calls to shedding. False
	// means they are always admitted.
	ShedCriticalPlus bool
	// RetryAfter is the wait suggested to refused callers. Zero means 1s;
	// negative is refused.
	RetryAfter time.Duration
	// Clock stamps events. Nil means [clock.Real].
	Clock clock.Clock
}

// InFlight sheds by criticality against a fixed number of calls in flight:
// the least critical calls are refused first as the count grows, so that
// under overload the capacity left goes to the calls that matter. A call of
// criticality c (from [levee.CriticalityFrom], or given to
// [InFlight.AcquireCriticality]) is admitted while fewer than its level's
// limit are in flight: Max for SHEDDABLE, Headroom·Max for CRITICAL (or for
// CRITICAL_PLUS with ShedCriticalPlus), the levels between evenly spaced,
// and CRITICAL_PLUS otherwise always.
//
// Where [Shedder] estimates the concurrency the service can sustain from
// its throughput and latency, InFlight takes it from configuration: it is
// what a gateway's max_in_flight means, exact from the first call and
// deterministic under test. Admission and release are an atomic addition
// and a compare-and-swap each (two additions on a refusal) and allocate
// nothing; a permit settled twice, stale or forged frees nothing. It is a [levee.Gate]
// (stage [levee.StageLimit]) and safe for concurrent use.
type InFlight struct {
	inflight  atomic.Int64
	permits   settle.Table    // the permits admitted and not yet settled
	limits    [4]atomic.Int64 // by levee.Criticality.Rank; math.MaxInt64 never sheds
	name      string
	clk       clock.Clock
	rejection atomic.Pointer[error] // never nil in a built InFlight
	listeners levee.Listeners
}

// NewInFlight returns an in-flight shedder configured by cfg, or an error
// naming the first invalid field.
func NewInFlight(cfg InFlightConfig) (*InFlight, error) {
	switch {
	case cfg.Max < 1:
		return nil, fmt.Errorf("shed: InFlightConfig.Max = %d, want >= 1", cfg.Max)
	case cfg.Headroom != 0 && cfg.Headroom < 1, math.IsNaN(cfg.Headroom), math.IsInf(cfg.Headroom, 0):
		return nil, fmt.Errorf("shed: InFlightConfig.Headroom = %v, want >= 1 (0 means 2)", cfg.Headroom)
	case cfg.RetryAfter < 0:
		return nil, fmt.Errorf("shed: InFlightConfig.RetryAfter = %v, want >= 0 (0 means 1s)", cfg.RetryAfter)
	}
	h := cfg.Headroom
	if h == 0 {
		h = 2
	}
	wait := cfg.RetryAfter
	if wait == 0 {
		wait = time.Second
	}
	s := &InFlight{name: cfg.Name, clk: clock.Or(cfg.Clock)}
	rejection := levee.Reject(levee.ErrShed, wait)
	s.rejection.Store(&rejection)
	top := 2 // the rank of the most critical level shed
	if cfg.ShedCriticalPlus {
		top = 3
	}
	for rank := range s.limits {
		if rank > top {
			s.limits[rank].Store(math.MaxInt64)
			continue
		}
		limit := float64(cfg.Max) * (1 + (h-1)*float64(rank)/float64(top))
		s.limits[rank].Store(int64(math.Min(math.Round(limit), math.MaxInt64/2)))
	}
	return s, nil
}

// Stage returns [levee.StageLimit].
func (s *InFlight) Stage() levee.Stage { return levee.StageLimit }

// OnEvent registers a listener for [levee.EventRejected], one per refused
// call (Reason "overload", Value the calls in flight, Threshold the limit
// of the call's level).
func (s *InFlight) OnEvent(fn levee.Listener) (remove func()) { return s.listeners.Add(fn) }

// InFlight returns the calls admitted and not yet settled.
func (s *InFlight) InFlight() int { return int(s.inflight.Load()) }

// Limit returns the number of calls in flight at which calls of c are
// refused, or math.MaxInt64 when they never are.
func (s *InFlight) Limit(c levee.Criticality) int64 { return s.limits[c.Rank()].Load() }

// Acquire admits or sheds a call by its context's criticality.
func (s *InFlight) Acquire(ctx context.Context) (levee.Permit, error) {
	return s.AcquireCriticality(ctx, levee.CriticalityFrom(ctx))
}

// AcquireCriticality is [InFlight.Acquire] with the criticality given. A
// refusal is [levee.ErrShed] with the configured Retry-After.
func (s *InFlight) AcquireCriticality(_ context.Context, c levee.Criticality) (levee.Permit, error) {
	limit := s.limits[c.Rank()].Load()
	n := s.inflight.Add(1)
	if n <= limit {
		return levee.NewPermit(s, s.permits.Claim(0, n), 0), nil
	}
	s.inflight.Add(-1)
	rejection := levee.ErrShed // the zero InFlight's
	if r := s.rejection.Load(); r != nil {
		rejection = *r
	}
	if s.listeners.Active() {
		s.listeners.Emit(levee.Event{Kind: levee.EventRejected, Policy: "shed", Name: s.name, Time: s.clk.Now(),
			Reason: "overload", Value: float64(n - 1), Threshold: float64(limit), Err: rejection})
	}
	return levee.Permit{}, rejection
}

// Release frees the call's place, once per admission: a permit settled
// before, or not issued by s, frees nothing. Only [levee.Permit] calls it.
func (s *InFlight) Release(p levee.Permit, _ levee.Outcome) {
	if _, ok := s.permits.Settle(p.Token()); ok {
		s.inflight.Add(-1)
	}
}

var (
	_ levee.Gate     = (*InFlight)(nil)
	_ levee.Releaser = (*InFlight)(nil)
)
