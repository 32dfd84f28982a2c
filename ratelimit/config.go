package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
)

// Config configures a [TokenBucket] or a [GCRA]. The zero value is a limiter
// with no limit.
type Config struct {
	// Name labels the limiter's events.
	Name string
	// Rate is the sustained rate. The zero Rate admits every call.
	Rate Rate
	// Burst is how many calls may be admitted at once by a limiter that has
	// been idle: the bucket's capacity. Zero means Rate.Events (a full
	// period's quota, so Rate{100, time.Minute} allows 100 at once and then
	// one every 600ms); negative is an error.
	Burst int
	// WarmUp, when positive, makes a cold limiter ramp up: its interval
	// starts at ColdFactor × Rate.Interval() and falls linearly to
	// Rate.Interval() over WarmUp. A limiter is cold when it is new, or when
	// its bucket has been full (no call needed a token) for WarmUp. Zero
	// means no warm-up; negative is an error.
	WarmUp time.Duration
	// ColdFactor is how many times slower a cold limiter admits calls; it
	// applies only with WarmUp. Zero means 3 (the Sentinel and Guava
	// default); it must otherwise be at least 1.
	ColdFactor float64
	// Clock is the source of time. Nil means [clock.Real].
	Clock clock.Clock
	// CoarseClock makes the limiter read the time from a process-wide
	// reading that one goroutine refreshes every [CoarseResolution] (1ms),
	// instead of reading the system clock on every call, which is most of
	// the cost of Allow on many machines. The trade: readings lag real time
	// by up to 1ms (more if that goroutine is scheduled late), so tokens
	// accrue in steps of about 1ms and a Reset or Remaining may be that
	// much behind. Lag never refuses a call the exact clock would admit: a
	// refusal whose wait is under 100ms is confirmed with an exact reading
	// (one clock read, on refusals only). Over any stretch of real time the
	// limiter admits at most what it would on the exact clock plus the
	// tokens of the lag at the stretch's start (one millisecond's worth
	// when the goroutine is on time), and over its life never more. The
	// burst must span at least 1ms of the rate (Burst ≥ Rate × 1ms), or the
	// limiter could not reach its rate between ticks; a setting that does
	// not is an error. It cannot be combined with Clock. The goroutine,
	// started by the first such limiter, runs for the life of the process.
	CoarseClock bool
}

// DefaultColdFactor is the ColdFactor used when [Config.ColdFactor] is zero.
const DefaultColdFactor = 3

// params is the immutable arithmetic of one rate setting; limiters swap a
// pointer to a new one when the rate changes.
type params struct {
	rate     Rate
	coarse   bool          // on the coarse clock: τ must span a tick
	per      time.Duration // rate's period, its zero Per resolved
	interval int64         // ns per token; 0 means no limit
	burst    int64
	burstCfg int   // the configured burst; 0 follows the rate's Events
	tau      int64 // burst × interval: how far the TAT may run ahead of now
	warm     int64 // warm-up period; 0 means none
	cold     int64 // the interval of a fully cold limiter
	factor   float64
}

func newParams(r Rate, burst int, warm time.Duration, factor float64, coarse bool) (*params, error) {
	if err := r.validate("Rate"); err != nil {
		return nil, err
	}
	if burst < 0 {
		return nil, fmt.Errorf("ratelimit: Burst = %d, want >= 0", burst)
	}
	if warm < 0 {
		return nil, fmt.Errorf("ratelimit: WarmUp = %v, want >= 0", warm)
	}
	if factor == 0 {
		factor = DefaultColdFactor
	}
	if !(factor >= 1) || math.IsInf(factor, 0) {
		return nil, fmt.Errorf("ratelimit: ColdFactor = %v, want >= 1", factor)
	}
	p := &params{rate: r, warm: int64(warm), factor: factor, burstCfg: burst, coarse: coarse}
	if r.Unlimited() {
		p.warm = 0
		return p, nil
	}
	if burst == 0 {
		burst = r.Events
	}
	p.interval = int64(r.Interval())
	p.per = r.period()
	p.burst = int64(burst)
	p.cold = p.interval
	if p.warm > 0 {
		c := float64(p.interval) * factor
		if c >= float64(maxSpan) {
			return nil, fmt.Errorf("ratelimit: ColdFactor = %v makes the cold interval overflow", factor)
		}
		p.cold = int64(c)
	}
	hi, lo := bits.Mul64(uint64(p.burst), uint64(p.cold))
	if hi != 0 || lo > uint64(maxSpan) {
		return nil, fmt.Errorf("ratelimit: Burst = %d at Rate %v spans more than %v", burst, r, time.Duration(maxSpan))
	}
	p.tau = p.burst * p.interval
	if coarse && p.tau < int64(CoarseResolution) {
		return nil, fmt.Errorf("ratelimit: Burst = %d at Rate %v spans %v, want at least the coarse clock's %v (Burst >= Rate × %v)",
			burst, r, time.Duration(p.tau), CoarseResolution, CoarseResolution)
	}
	return p, nil
}

// decision returns a Decision with the figures every decision under p
// carries: the quota (the burst) and the configured rate, exactly.
func (p *params) decision() levee.Decision {
	return levee.Decision{Limit: int(p.burst), Rate: p.rate.Events, Window: p.per}
}

// withRate returns params for another rate and burst setting, keeping the
// warm-up.
func (p *params) withRate(r Rate, burst int) (*params, error) {
	return newParams(r, burst, time.Duration(p.warm), p.factor, p.coarse)
}

// settings is the run-time rate setting of a [GCRA], a [TokenBucket] or a
// [Keyed] limiter, and the one implementation of their Rate, Burst,
// SetRate, SetBurst and OnEvent.
type settings struct {
	p         atomic.Pointer[params]
	clk       clock.Clock
	name      string
	listeners levee.Listeners
	mu        sync.Mutex // serialises changes
	// install re-expresses the limiter's state under np so that the tokens
	// available now survive (capped at np's burst), and stores np.
	install func(old, np *params)
}

// ErrNotNew is returned by the methods of a limiter that its constructor
// did not make (the zero value of [GCRA], [TokenBucket], [SlidingWindow] or
// [Keyed]): it has no clock and no rate. Such a limiter refuses every call,
// as x/time/rate's zero Limiter does, so that a limiter left unbuilt is
// noticed rather than silently admitting everything.
var ErrNotNew = errors.New("ratelimit: limiter not made by its constructor (NewGCRA, NewTokenBucket, NewSlidingWindow or NewKeyed)")

// notNew is the Decision of a limiter its constructor did not make: a
// refusal no wait can cure.
var notNew = levee.Decision{RetryAfter: levee.Never}

// Rate returns the current rate (of a [Keyed] limiter: the default rate
// of keys); the zero Rate for a limiter its constructor did not make.
func (s *settings) Rate() Rate {
	if p := s.p.Load(); p != nil {
		return p.rate
	}
	return Rate{}
}

// Burst returns the current burst, after the default for zero is applied
// (of a [Keyed] limiter: the default burst of keys); zero for a limiter its
// constructor did not make.
func (s *settings) Burst() int {
	if p := s.p.Load(); p != nil {
		return int(p.burst)
	}
	return 0
}

// SetRate changes the rate at run time. The tokens available now are kept
// (capped at the burst), so a change neither forgets recent use nor hands
// out a burst; a [Keyed] limiter does so for every key it holds. A burst
// configured as zero keeps following the rate's Events. Calls decided
// concurrently with the change may see either rate. A limiter its
// constructor did not make returns [ErrNotNew].
func (s *settings) SetRate(r Rate) error {
	return s.set(func(old *params) (*params, error) { return old.withRate(r, old.burstCfg) })
}

// SetBurst changes the burst at run time, keeping the tokens available now
// (capped at the new burst): raising it lets tokens accrue to the new
// capacity at the rate instead of granting them at once. Zero means
// Rate.Events; negative is an error. A limiter its constructor did not make
// returns [ErrNotNew].
func (s *settings) SetBurst(b int) error {
	return s.set(func(old *params) (*params, error) { return old.withRate(old.rate, b) })
}

func (s *settings) set(next func(old *params) (*params, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.p.Load()
	if old == nil {
		return ErrNotNew
	}
	np, err := next(old)
	if err != nil {
		return err
	}
	s.installLocked(old, np)
	return nil
}

// installLocked installs np in place of old and reports the change; s.mu
// is held.
func (s *settings) installLocked(old, np *params) {
	s.install(old, np)
	if s.listeners.Active() {
		s.listeners.Emit(levee.Event{
			Kind: levee.EventLimitChange, Policy: "ratelimit", Name: s.name, Time: s.clk.Now(),
			Value: perSecond(np), Threshold: perSecond(old),
		})
	}
}

// OnEvent registers fn for the limiter's events (rejections, rate changes)
// and returns a function that removes it. Overridden keys of a [Keyed]
// limiter report to their own limiters, not here.
func (s *settings) OnEvent(fn levee.Listener) (remove func()) { return s.listeners.Add(fn) }
