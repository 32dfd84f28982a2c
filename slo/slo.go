package slo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/internal/settle"
)

// Defaults applied to a zero [Config].
const (
	// DefaultObjective is the target fraction of good events.
	DefaultObjective = 0.999
	// DefaultWindow is the rolling window of an objective.
	DefaultWindow = 30 * 24 * time.Hour
	// DefaultBucket is the width of one counting bucket.
	DefaultBucket = time.Minute
	// DefaultMinEvents is the number of events an alert's long window must
	// hold before the alert may fire.
	DefaultMinEvents = 100
	// DefaultEvalInterval is how often [SLO.Start] evaluates the alerts.
	DefaultEvalInterval = 30 * time.Second
	// DefaultBurnWindow is the window [SLO.Status] measures the current
	// burn rate over to predict when the budget runs out.
	DefaultBurnWindow = time.Hour
	// StageSLO is where an SLO sits in a pipeline built in the default
	// order: inside fallbacks, outside retries, so that it records what the
	// caller of the pipeline experienced rather than each attempt.
	StageSLO = levee.StageFallback + 50
	// maxBuckets bounds the memory of one SLO (8 bytes per bucket).
	maxBuckets = 1 << 22
)

// Config describes one service level objective. The zero value is an
// availability objective of 99.9% over 30 days, counted in one-minute
// buckets, alerting with the SRE workbook's burn-rate table.
type Config struct {
	// Name labels the SLO's events and Prometheus rules. Empty means "slo".
	Name string

	// Objective is the fraction of events that must be good, strictly
	// between 0 and 1. Zero means [DefaultObjective] (0.999).
	Objective float64

	// Window is the rolling window the objective holds over. Zero means
	// [DefaultWindow] (30 days). It must be a whole number of Buckets.
	Window time.Duration

	// Bucket is the time resolution of the counters: windows are measured
	// in whole buckets, and memory is 8 bytes per bucket in Window
	// (345,600 bytes for the defaults). Zero means [DefaultBucket] (one
	// minute). At most 4,194,304 buckets per window.
	Bucket time.Duration

	// Latency, when positive, makes this a latency SLI: an event is good
	// when its latency is at most Latency, whatever its result. Zero means
	// an availability SLI: an event is good when its result is
	// [levee.Success]. For several latency thresholds, make one SLO per
	// threshold and record into all of them with a [Group].
	Latency time.Duration

	// Good, when set, decides whether a counted event is good, replacing
	// the rule chosen by Latency. It must be cheap and safe for concurrent
	// use. Nil means the rule above. Either way, [levee.Ignored] outcomes
	// are not counted at all.
	Good func(levee.Outcome) bool

	// Alerts are the burn-rate rules evaluated by [SLO.Evaluate]. Nil means
	// [DefaultAlerts]; a non-nil empty slice disables alerting.
	Alerts []Alert

	// MinEvents is how many events an alert's long window must hold before
	// the alert may fire, so that one failure at night does not page. Zero
	// means [DefaultMinEvents] (100); negative means no minimum.
	MinEvents int64

	// EvalInterval is how often the schedule started by [SLO.Start]
	// evaluates the alerts. Zero means [DefaultEvalInterval] (30s);
	// negative is refused.
	EvalInterval time.Duration

	// Stage places the SLO in a pipeline built in the default order. Zero
	// means [StageSLO].
	Stage levee.Stage

	// Clock is the source of time. Nil means [clock.Real].
	Clock clock.Clock
}

// Alert is one line of a multi-window, multi-burn-rate alerting table: it
// fires when the error ratio over both Long and Short exceeds
// Factor × (1 − objective), that is when both burn rates exceed Factor. The
// long window makes the alert significant; the short one makes it stop soon
// after the burn stops.
type Alert struct {
	// Severity names the alert, such as "page" or "ticket". Lines with the
	// same severity form one alert, firing while any of them fires. It must
	// be lower-case letters, digits and underscores.
	Severity string
	// Long and Short are the two windows; both must be positive whole
	// numbers of the SLO's Bucket, Short at most Long, Long at most the
	// SLO's Window.
	Long, Short time.Duration
	// Factor is the burn rate both windows must exceed; positive.
	Factor float64
}

// DefaultAlerts is the table of the SRE workbook (chapter 5, "Alerting on
// SLOs") for a 30-day objective: page when 2% of the budget burns in an hour
// or 5% in six hours; open a ticket when 10% burns in three days or at the
// rate that spends it all within the window.
func DefaultAlerts() []Alert {
	return []Alert{
		{Severity: "page", Long: time.Hour, Short: 5 * time.Minute, Factor: 14.4},
		{Severity: "page", Long: 6 * time.Hour, Short: 30 * time.Minute, Factor: 6},
		{Severity: "ticket", Long: 24 * time.Hour, Short: 2 * time.Hour, Factor: 3},
		{Severity: "ticket", Long: 72 * time.Hour, Short: 6 * time.Hour, Factor: 1},
	}
}

// SLO tracks one objective in process: it counts good and total events in a
// ring of time buckets, answers questions about the error budget, and
// evaluates burn-rate alerts.
//
// Record (or RecordAt) is the listener most callers want: feed it every
// outcome. An SLO is also a [levee.Gate] that admits every call, so it can
// sit in a pipeline and record the outcome and latency of each call itself.
// Recording costs one clock reading and one atomic add, without allocation;
// memory is fixed at construction. All methods are safe for concurrent use.
//
// Build an SLO with [New]. A zero SLO records nothing, answers every query
// as an SLO that has recorded nothing, and refuses Acquire with
// [ErrNotBuilt].
type SLO struct {
	cfg       Config
	clk       clock.Clock
	ring      *ring
	objective float64
	allowed   float64 // 1 - objective
	window    int64   // nanoseconds
	created   int64   // nanotime of construction
	baseWall  time.Time
	good      func(levee.Outcome) bool
	latency   int64

	alerts   []Alert
	spans    []int64 // bucket counts: alerts[i].Long at 2i, Short at 2i+1
	sevs     []string
	pressure []atomic.Uint64 // float64 bits, per severity

	mu     sync.Mutex // guards firing, timer and gen
	firing []bool     // per severity
	timer  clock.Timer
	tick   clock.Timer // moves the ring's head at bucket boundaries while started
	gen    uint64      // schedule generation: a stopped schedule's late tick does not re-arm

	// ticking is set while Start's schedule keeps the ring's head current,
	// so Record can skip reading the clock.
	ticking atomic.Bool

	// permits holds the permits admitted and not yet settled, open counts
	// them: a permit counts its outcome once.
	permits settle.Table
	open    atomic.Int64

	listeners levee.Listeners
}

// New returns an SLO configured by cfg, or an error naming the first
// invalid field.
func New(cfg Config) (*SLO, error) {
	if err := normalize(&cfg); err != nil {
		return nil, err
	}
	clk := clock.Or(cfg.Clock)
	now := clk.Nanotime()
	s := &SLO{
		cfg:       cfg,
		clk:       clk,
		ring:      newRing(int64(cfg.Bucket), int64(cfg.Window/cfg.Bucket), now),
		objective: cfg.Objective,
		allowed:   1 - cfg.Objective,
		window:    int64(cfg.Window),
		created:   now,
		baseWall:  clk.Now(),
		good:      cfg.Good,
		latency:   int64(cfg.Latency),
		alerts:    cfg.Alerts,
	}
	for _, a := range s.alerts {
		s.spans = append(s.spans, int64(a.Long/cfg.Bucket), int64(a.Short/cfg.Bucket))
		if severityIndex(s.sevs, a.Severity) < 0 {
			s.sevs = append(s.sevs, a.Severity)
		}
	}
	s.pressure = make([]atomic.Uint64, len(s.sevs))
	s.firing = make([]bool, len(s.sevs))
	return s, nil
}

func severityIndex(sevs []string, sev string) int {
	for i, s := range sevs {
		if s == sev {
			return i
		}
	}
	return -1
}

// normalize applies defaults and validates; it is shared with the rule
// generator so both see the same SLO.
func normalize(cfg *Config) error {
	if cfg.Name == "" {
		cfg.Name = "slo"
	}
	if cfg.Objective == 0 {
		cfg.Objective = DefaultObjective
	}
	if !(cfg.Objective > 0 && cfg.Objective < 1) {
		return fmt.Errorf("slo: Objective %v must be between 0 and 1 (exclusive)", cfg.Objective)
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Bucket == 0 {
		cfg.Bucket = DefaultBucket
	}
	if cfg.Bucket < 0 {
		return fmt.Errorf("slo: Bucket %v must be positive", cfg.Bucket)
	}
	if cfg.Window < cfg.Bucket {
		return fmt.Errorf("slo: Window %v must be at least Bucket %v", cfg.Window, cfg.Bucket)
	}
	if cfg.Window%cfg.Bucket != 0 {
		return fmt.Errorf("slo: Window %v is not a whole number of Buckets (%v)", cfg.Window, cfg.Bucket)
	}
	if cfg.Window/cfg.Bucket > maxBuckets {
		return fmt.Errorf("slo: Window %v holds %d Buckets of %v, more than %d", cfg.Window, cfg.Window/cfg.Bucket, cfg.Bucket, maxBuckets)
	}
	if cfg.Latency < 0 {
		return fmt.Errorf("slo: Latency %v must not be negative", cfg.Latency)
	}
	if cfg.MinEvents == 0 {
		cfg.MinEvents = DefaultMinEvents
	}
	if cfg.EvalInterval == 0 {
		cfg.EvalInterval = DefaultEvalInterval
	}
	if cfg.EvalInterval < 0 {
		return fmt.Errorf("slo: EvalInterval %v must not be negative", cfg.EvalInterval)
	}
	if cfg.Stage == 0 {
		cfg.Stage = StageSLO
	}
	if cfg.Alerts == nil {
		cfg.Alerts = DefaultAlerts()
	} else {
		cfg.Alerts = append([]Alert{}, cfg.Alerts...)
	}
	for i, a := range cfg.Alerts {
		if !validSeverity(a.Severity) {
			return fmt.Errorf("slo: Alerts[%d].Severity %q must be lower-case letters, digits and underscores", i, a.Severity)
		}
		for _, w := range []struct {
			name string
			d    time.Duration
		}{{"Long", a.Long}, {"Short", a.Short}} {
			if w.d < cfg.Bucket || w.d%cfg.Bucket != 0 {
				return fmt.Errorf("slo: Alerts[%d].%s %v must be a positive whole number of Buckets (%v)", i, w.name, w.d, cfg.Bucket)
			}
		}
		if a.Short > a.Long {
			return fmt.Errorf("slo: Alerts[%d].Short %v must not exceed Long %v", i, a.Short, a.Long)
		}
		if a.Long > cfg.Window {
			return fmt.Errorf("slo: Alerts[%d].Long %v must not exceed Window %v", i, a.Long, cfg.Window)
		}
		if !(a.Factor > 0) || math.IsInf(a.Factor, 0) {
			return fmt.Errorf("slo: Alerts[%d].Factor %v must be positive", i, a.Factor)
		}
	}
	return nil
}

func validSeverity(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// Name returns the SLO's name.
func (s *SLO) Name() string { return s.cfg.Name }

// Config returns the SLO's configuration with defaults applied.
func (s *SLO) Config() Config {
	c := s.cfg
	c.Alerts = append([]Alert{}, s.cfg.Alerts...)
	return c
}

// Record counts one outcome now. Ignored outcomes are not counted. For a
// latency SLI the outcome must carry its latency.
func (s *SLO) Record(o levee.Outcome) {
	if s.ring == nil {
		return // a zero SLO records nothing
	}
	if o.Result == levee.Ignored {
		return
	}
	if s.ticking.Load() {
		s.ring.addHead(s.isGood(o))
		return
	}
	s.ring.add(s.clk.Nanotime(), s.isGood(o))
}

// RecordAt counts one outcome at time now, for callers that already hold
// the time. Outcomes older than the window are dropped.
func (s *SLO) RecordAt(now time.Time, o levee.Outcome) {
	if s.ring == nil {
		return // a zero SLO records nothing
	}
	if o.Result == levee.Ignored {
		return
	}
	s.ring.add(s.nanoOf(now), s.isGood(o))
}

func (s *SLO) nanoOf(t time.Time) int64 { return s.created + int64(t.Sub(s.baseWall)) }

func (s *SLO) isGood(o levee.Outcome) bool {
	if s.good != nil {
		return s.good(o)
	}
	if s.latency > 0 {
		return int64(o.Latency) <= s.latency
	}
	return o.Result == levee.Success
}

// Stage places the SLO in a pipeline; see [Config.Stage].
func (s *SLO) Stage() levee.Stage { return s.cfg.Stage }

// Acquire admits every call; the permit remembers when the call started so
// that its latency can be measured.
func (s *SLO) Acquire(context.Context) (levee.Permit, error) {
	if s.ring == nil {
		return levee.Permit{}, ErrNotBuilt
	}
	return levee.NewPermit(s, s.permits.Claim(0, s.open.Add(1)), s.clk.Nanotime()), nil
}

// Release records the outcome of a call admitted by [SLO.Acquire]. When the
// outcome carries no latency it is measured from the permit's start. A
// permit settled before, one from an earlier admission and one the SLO did
// not issue count nothing.
func (s *SLO) Release(p levee.Permit, o levee.Outcome) {
	if _, ok := s.permits.Settle(p.Token()); !ok {
		return
	}
	s.open.Add(-1)
	if o.Result == levee.Ignored {
		return
	}
	now := s.clk.Nanotime()
	if o.Latency == 0 {
		o.Latency = time.Duration(now - p.Start())
	}
	s.ring.add(now, s.isGood(o))
}

// OnEvent registers a listener for the SLO's alert events and returns a
// function that removes it: a [levee.EventStateChange] each time an alert
// starts or stops firing (From and To [StateOK] or [StateFiring], Reason the
// alert's severity), with Value the burn rate that decided it (a
// multiple of the rate that spends the budget exactly over the window,
// unitless) and Threshold the alert's burn-rate factor.
func (s *SLO) OnEvent(fn levee.Listener) (remove func()) { return s.listeners.Add(fn) }

var (
	_ levee.Gate     = (*SLO)(nil)
	_ levee.Releaser = (*SLO)(nil)
)

// ErrNotBuilt is what a zero [SLO] returns from Acquire: an SLO must come
// from [New], which applies the defaults a zero [Config] asks for. Its
// other methods treat a zero SLO as one that has recorded nothing.
var ErrNotBuilt = errors.New("slo: SLO used as a zero value; build it with New")

// empty is the SLO a zero SLO answers queries with: nothing recorded.
var empty = sync.OnceValue(func() *SLO {
	s, err := New(Config{Window: 72 * time.Hour, Bucket: 5 * time.Minute})
	if err != nil {
		panic(err) // unreachable: the default alerts fit this window
	}
	return s
})

// orEmpty returns s, or for a zero SLO an empty one, so that the queries
// of a zero SLO answer as an SLO that has recorded nothing.
func (s *SLO) orEmpty() *SLO {
	if s.ring == nil {
		return empty()
	}
	return s
}
