package breaker

import (
	"cmp"
	"fmt"
	"math"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
)

// Config configures a [Breaker]. The zero value is a count-window breaker
// that opens when at least half of the last 100 calls failed (once 20 have
// been made), waits 5s, then lets 3 probe calls through.
//
// Rates are percentages (50 means 50%). Every field documents its default;
// [New] refuses invalid values with a [*ConfigError] naming the field.
type Config struct {
	// Name labels the breaker's events and snapshots.
	Name string

	// Clock supplies time. Nil means [clock.Real].
	Clock clock.Clock

	// WindowSize is the number of most recent calls a count window holds.
	// Zero means 100. Ignored when WindowDuration selects a time window.
	// Negative, or above 1<<24, is an error.
	WindowSize int

	// WindowDuration, when positive, selects a time window: the calls of
	// the last WindowDuration, kept in WindowBuckets buckets that roll one
	// at a time. Zero selects the count window (except in Adaptive mode,
	// where zero means a 2-minute time window, as in the SRE book).
	// Negative is an error.
	WindowDuration time.Duration

	// WindowBuckets is the number of buckets of a time window. Zero means
	// 10. Negative, above 1<<16, or more buckets than WindowDuration has
	// nanoseconds, is an error.
	WindowBuckets int

	// MinCalls is the number of calls the window must hold before the
	// failure and slow-call rates are evaluated. Zero means 20, capped to
	// WindowSize for a count window. Negative, or above WindowSize for a
	// count window, is an error.
	MinCalls int

	// FailureRate is the failure percentage at or above which the breaker
	// opens. Zero means 50; negative disables the failure-rate condition.
	// Above 100 (or NaN) is an error.
	FailureRate float64

	// SlowCallDuration is the latency at or above which a call counts as
	// slow. Zero disables slow-call tracking; negative is an error. The
	// breaker takes latency from Outcome.Latency, or measures it from the
	// admission time when that is zero.
	SlowCallDuration time.Duration

	// SlowCallRate is the slow-call percentage at or above which the
	// breaker opens. Zero means 100 when SlowCallDuration is set; negative
	// disables the condition while still counting slow calls. Above 100, or
	// positive without SlowCallDuration, is an error.
	SlowCallRate float64

	// ConsecutiveFailures, when positive, opens the breaker after that many
	// failures in a row, whatever the window says. Zero disables it;
	// negative is an error.
	ConsecutiveFailures int

	// OpenWait is how long the breaker stays open after its first trip
	// before letting probes through. Zero means 5s; negative is an error.
	OpenWait time.Duration

	// OpenWaitMultiplier grows the open wait on each consecutive trip (a
	// trip from half-open without closing in between): the n-th wait is
	// OpenWait × OpenWaitMultiplier^(n−1). Zero or 1 means no growth;
	// negative, NaN, or between 0 and 1, is an error.
	OpenWaitMultiplier float64

	// OpenWaitMax caps the open wait, including waits grown by the
	// multiplier, jittered, or taken from a Retry-After. Zero means
	// 16 × OpenWait. Negative, or below OpenWait, is an error.
	OpenWaitMax time.Duration

	// OpenWaitJitter spreads each open wait uniformly over
	// [w × (1 − j), w × (1 + j)] (then capped by OpenWaitMax), so that
	// many clients do not probe a recovering dependency in step. Zero means
	// no jitter; outside [0, 1] is an error.
	OpenWaitJitter float64

	// HonorRetryAfter sets the open wait from the Retry-After of the
	// failure that tripped the breaker ([levee.RetryAfter] of its error),
	// capped by OpenWaitMax, when it has one. Otherwise the wait is
	// computed as usual.
	HonorRetryAfter bool

	// HalfOpenProbes is the number of calls admitted at once in the
	// half-open state. Zero means 3. Negative, or above WindowSize for a
	// count window, is an error.
	HalfOpenProbes int

	// ProbeTimeout bounds how long half-open waits for its probes: when
	// ProbeTimeout has passed since the first probe of a half-open period
	// was admitted and a probe admitted since has not reported, the breaker
	// reopens (reason probe_timeout), as if that probe had failed; its late
	// result is ignored. This keeps a hung call, or a permit never settled,
	// from holding a probe slot, and the breaker half-open, forever. While
	// no probe is out, half-open waits for traffic however long it takes.
	// Zero means 30s; negative means no bound.
	ProbeTimeout time.Duration

	// RecoveryRamp, when positive, lets traffic back gradually after the
	// breaker closes: the share of calls admitted grows linearly from 0 to
	// 100% over RecoveryRamp. Zero means no ramp; negative is an error.
	RecoveryRamp time.Duration

	// Adaptive selects SRE adaptive throttling instead of the open /
	// half-open state machine: the breaker stays closed and rejects each
	// call with probability max(0, (requests − K·accepts) / (requests + 1))
	// over the window, where requests counts every call including the ones
	// it rejected and accepts the successful ones. FailureRate,
	// SlowCallDuration and ConsecutiveFailures cannot be combined with it.
	Adaptive bool

	// AdaptiveK is the K of adaptive throttling: how many requests per
	// accepted one the breaker lets through before throttling. Zero means
	// 2; below 1 (or NaN) is an error. Lower is more aggressive.
	AdaptiveK float64

	// Classifier, when set, decides each call's result from Outcome.Err,
	// overriding Outcome.Result. Nil means the result is taken as given
	// (Permit.Done classifies with [levee.DefaultClassifier]).
	Classifier levee.Classifier
}

// ConfigError reports an invalid [Config] field.
type ConfigError struct {
	Field  string
	Value  any
	Reason string
}

// Error names the field, its value and what is wrong with it.
func (e *ConfigError) Error() string {
	return fmt.Sprintf("breaker: invalid Config.%s %v: %s", e.Field, e.Value, e.Reason)
}

// Defaults applied to zero fields; see [Config].
const (
	DefaultWindowSize        = 100
	DefaultWindowBuckets     = 10
	DefaultMinCalls          = 20
	DefaultFailureRate       = 50.0
	DefaultOpenWait          = 5 * time.Second
	DefaultOpenWaitMaxFactor = 16
	DefaultHalfOpenProbes    = 3
	DefaultProbeTimeout      = 30 * time.Second
	DefaultAdaptiveK         = 2.0
	DefaultAdaptiveWindow    = 2 * time.Minute
	maxWindowSize            = 1 << 24
	maxWindowBuckets         = 1 << 16
	defaultSlowCallPercent   = 100.0
)

// settings is a validated Config with defaults applied.
type settings struct {
	name       string
	clk        clock.Clock
	size       int   // count window size (0 with a time window)
	width      int64 // time window bucket width in ns (0 with a count window)
	buckets    int
	minCalls   int64
	failRate   float64 // < 0: disabled
	slowDur    time.Duration
	slowRate   float64 // < 0: disabled
	consec     int64
	openWait   time.Duration
	mult       float64
	waitMax    time.Duration
	jitter     float64
	honorRA    bool
	probes     int64
	probeWait  time.Duration // <= 0: no bound
	ramp       time.Duration
	adaptive   bool
	k          float64
	classifier levee.Classifier
	measure    bool // Allow records an admission time (slow-call tracking)
	needNow    bool // Release reads the clock
	checkRates bool // a rate condition is enabled
}

func badf(field string, v any, format string, args ...any) error {
	return &ConfigError{Field: field, Value: v, Reason: fmt.Sprintf(format, args...)}
}

// validate checks c and applies the defaults, one stage per group of
// fields, in the order the fields depend on each other: the window first
// (MinCalls and HalfOpenProbes are bounded by a count window's size), the
// Adaptive mode last (it overrides the trip conditions).
func validate(c Config) (settings, error) {
	s := settings{name: c.Name, clk: clock.Or(c.Clock), honorRA: c.HonorRetryAfter, classifier: c.Classifier, adaptive: c.Adaptive}
	for _, stage := range []func(*settings, Config) error{
		(*settings).window,
		(*settings).minCallCount,
		(*settings).rates,
		(*settings).openWaits,
		(*settings).halfOpen,
		(*settings).adaptiveMode,
	} {
		if err := stage(&s, c); err != nil {
			return s, err
		}
	}
	s.measure = s.slowDur > 0
	s.needNow = s.measure || s.width > 0
	s.checkRates = s.failRate > 0 || s.slowRate > 0
	return s, nil
}

// window checks WindowSize, WindowDuration and WindowBuckets and picks the
// count or the time window.
func (s *settings) window(c Config) error {
	if c.WindowSize < 0 || c.WindowSize > maxWindowSize {
		return badf("WindowSize", c.WindowSize, "must be in [0, %d]", maxWindowSize)
	}
	if c.WindowDuration < 0 {
		return badf("WindowDuration", c.WindowDuration, "must not be negative")
	}
	if c.WindowBuckets < 0 || c.WindowBuckets > maxWindowBuckets {
		return badf("WindowBuckets", c.WindowBuckets, "must be in [0, %d]", maxWindowBuckets)
	}
	dur := c.WindowDuration
	if dur == 0 && c.Adaptive {
		dur = DefaultAdaptiveWindow
	}
	if dur <= 0 {
		s.size = cmp.Or(c.WindowSize, DefaultWindowSize)
		return nil
	}
	s.buckets = cmp.Or(c.WindowBuckets, DefaultWindowBuckets)
	s.width = int64(dur) / int64(s.buckets)
	if s.width == 0 {
		return badf("WindowBuckets", c.WindowBuckets, "more buckets than WindowDuration %v has nanoseconds", dur)
	}
	return nil
}

// minCallCount checks MinCalls against the window.
func (s *settings) minCallCount(c Config) error {
	switch {
	case c.MinCalls < 0:
		return badf("MinCalls", c.MinCalls, "must not be negative")
	case c.MinCalls == 0:
		s.minCalls = DefaultMinCalls
		if s.size > 0 {
			s.minCalls = min(s.minCalls, int64(s.size))
		}
	case s.size > 0 && c.MinCalls > s.size:
		return badf("MinCalls", c.MinCalls, "larger than the count window (WindowSize %d)", s.size)
	default:
		s.minCalls = int64(c.MinCalls)
	}
	return nil
}

// rates checks the trip conditions of the closed state: FailureRate,
// SlowCallDuration with SlowCallRate, and ConsecutiveFailures.
func (s *settings) rates(c Config) error {
	if math.IsNaN(c.FailureRate) || c.FailureRate > 100 {
		return badf("FailureRate", c.FailureRate, "must be a percentage of at most 100")
	}
	s.failRate = cmp.Or(c.FailureRate, DefaultFailureRate)

	if c.SlowCallDuration < 0 {
		return badf("SlowCallDuration", c.SlowCallDuration, "must not be negative")
	}
	if math.IsNaN(c.SlowCallRate) || c.SlowCallRate > 100 {
		return badf("SlowCallRate", c.SlowCallRate, "must be a percentage of at most 100")
	}
	s.slowDur = c.SlowCallDuration
	s.slowRate = -1
	if s.slowDur > 0 {
		s.slowRate = cmp.Or(c.SlowCallRate, defaultSlowCallPercent)
	} else if c.SlowCallRate > 0 {
		return badf("SlowCallRate", c.SlowCallRate, "has no effect without SlowCallDuration")
	}

	if c.ConsecutiveFailures < 0 {
		return badf("ConsecutiveFailures", c.ConsecutiveFailures, "must not be negative")
	}
	s.consec = int64(c.ConsecutiveFailures)
	return nil
}

// openWaits checks how long the breaker stays open: OpenWait, its growth
// (OpenWaitMultiplier), its cap (OpenWaitMax) and OpenWaitJitter.
func (s *settings) openWaits(c Config) error {
	if c.OpenWait < 0 {
		return badf("OpenWait", c.OpenWait, "must not be negative")
	}
	s.openWait = cmp.Or(c.OpenWait, DefaultOpenWait)
	m := c.OpenWaitMultiplier
	if math.IsNaN(m) || m < 0 || (m > 0 && m < 1) || math.IsInf(m, 0) {
		return badf("OpenWaitMultiplier", m, "must be 0, or at least 1")
	}
	s.mult = max(m, 1)
	switch {
	case c.OpenWaitMax < 0:
		return badf("OpenWaitMax", c.OpenWaitMax, "must not be negative")
	case c.OpenWaitMax == 0:
		s.waitMax = s.openWait * DefaultOpenWaitMaxFactor
		if s.waitMax/DefaultOpenWaitMaxFactor != s.openWait { // overflow
			s.waitMax = math.MaxInt64
		}
	case c.OpenWaitMax < s.openWait:
		return badf("OpenWaitMax", c.OpenWaitMax, "below OpenWait %v", s.openWait)
	default:
		s.waitMax = c.OpenWaitMax
	}
	if math.IsNaN(c.OpenWaitJitter) || c.OpenWaitJitter < 0 || c.OpenWaitJitter > 1 {
		return badf("OpenWaitJitter", c.OpenWaitJitter, "must be a fraction in [0, 1]")
	}
	s.jitter = c.OpenWaitJitter
	return nil
}

// halfOpen checks the half-open probes (HalfOpenProbes, ProbeTimeout) and
// the RecoveryRamp that follows them.
func (s *settings) halfOpen(c Config) error {
	switch {
	case c.HalfOpenProbes < 0:
		return badf("HalfOpenProbes", c.HalfOpenProbes, "must not be negative")
	case c.HalfOpenProbes == 0:
		s.probes = DefaultHalfOpenProbes
		if s.size > 0 {
			s.probes = min(s.probes, int64(s.size))
		}
	case s.size > 0 && c.HalfOpenProbes > s.size:
		return badf("HalfOpenProbes", c.HalfOpenProbes, "larger than the count window (WindowSize %d)", s.size)
	default:
		s.probes = int64(c.HalfOpenProbes)
	}
	s.probeWait = cmp.Or(c.ProbeTimeout, DefaultProbeTimeout)

	if c.RecoveryRamp < 0 {
		return badf("RecoveryRamp", c.RecoveryRamp, "must not be negative")
	}
	s.ramp = c.RecoveryRamp
	return nil
}

// adaptiveMode checks AdaptiveK, and that Adaptive is not combined with the
// trip conditions it replaces, which it then disables.
func (s *settings) adaptiveMode(c Config) error {
	if math.IsNaN(c.AdaptiveK) || math.IsInf(c.AdaptiveK, 0) || (c.AdaptiveK != 0 && c.AdaptiveK < 1) {
		return badf("AdaptiveK", c.AdaptiveK, "must be 0 or at least 1")
	}
	s.k = cmp.Or(c.AdaptiveK, DefaultAdaptiveK)
	if !c.Adaptive {
		return nil
	}
	switch {
	case c.FailureRate > 0:
		return badf("FailureRate", c.FailureRate, "has no effect in Adaptive mode")
	case c.SlowCallDuration > 0:
		return badf("SlowCallDuration", c.SlowCallDuration, "has no effect in Adaptive mode")
	case c.ConsecutiveFailures > 0:
		return badf("ConsecutiveFailures", c.ConsecutiveFailures, "has no effect in Adaptive mode")
	}
	s.failRate, s.slowRate, s.consec = -1, -1, 0
	return nil
}
