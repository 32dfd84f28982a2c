package shed

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/internal/settle"
)

// Config configures a [Shedder]. The zero value is a shedder that is always
// engaged, over a 10s window of 100 buckets, sparing CRITICAL_PLUS.
type Config struct {
	// Name labels the shedder's events.
	Name string
	// Window is how far back the shedder looks for the best throughput and
	// the lowest latency. Zero means 10s; negative is refused.
	Window time.Duration
	// Buckets is how many buckets the window has. Zero means 100;
	// negative is refused, and so is a window shorter than a millisecond
	// per bucket.
	Buckets int
	// CPU engages the shedder while its usage is at or above CPUThreshold.
	// Nil means the shedder is always engaged: it keeps in-flight calls
	// within the estimate whatever the CPU does.
	CPU CPUSource
	// CPUThreshold is the usage, a fraction of the quota, at which the
	// shedder engages. Zero means 0.8; values outside (0, 1] are refused.
	CPUThreshold float64
	// CoolOff keeps the shedder engaged after its last rejection even when
	// the CPU is below the threshold, and is how long a criticality level
	// stays shed after the last overload. Zero means 1s; negative is
	// refused.
	CoolOff time.Duration
	// Headroom is how far, as a multiple of the estimate, calls of a
	// higher criticality than the level being shed may exceed it, so that
	// they queue rather than fail while lower levels make room. Zero means
	// 4; values below 1 are refused.
	Headroom float64
	// Gain multiplies the estimate maxPass·minRT. An estimate only sees
	// the throughput the shedder let through, so with a gain of 1 (the BBR
	// limiter of go-kratos, which engages only above its CPU threshold)
	// a shedder engaged all the time can only ratchet down; a gain above
	// 1 lets it probe upwards, as TCP BBR probes with 1.25, and tolerates
	// a queue of (Gain−1) of the latency. Zero means 1.25; values below 1
	// are refused.
	Gain float64
	// ShedCriticalPlus subjects CRITICAL_PLUS calls to shedding. False
	// means they are always admitted.
	ShedCriticalPlus bool
	// RetryAfter is the wait suggested to refused callers. Zero means
	// CoolOff; negative is refused.
	RetryAfter time.Duration
	// Clock times latencies and buckets. Nil means [clock.Real].
	Clock clock.Clock
}

// Shedder is a BBR-style load shedder with criticality, after the BBR
// limiter of go-kratos. Over a rolling window it tracks the most calls
// completed in one bucket (maxPass) and the lowest average latency of a
// bucket that completed at least half as many (minRT); their product,
//
//	maxInFlight = Gain · maxPass · minRT / bucket
//
// is the concurrency at which the service completes the most calls with
// little queue (Little's law at the bandwidth-delay product, as TCP BBR
// estimates it, with BBR's probing gain of 1.25 by default). While engaged
// — always, or while the CPU is over the threshold, and for CoolOff after
// the last rejection — a call that finds more than
// maxInFlight calls in flight (and more than one) is a candidate to shed.
//
// Which calls are shed goes by criticality ([levee.CriticalityFrom]), the
// lowest first, and the shedder rejects a level only while it rejects
// every lower one. It keeps a shed level: calls below it are refused
// outright; calls at it are refused when over the estimate; calls above it
// are admitted up to Headroom times the estimate. When calls at the level
// are being refused and calls above it still find the service over the
// estimate, the level rises by one (SHEDDABLE is refused outright, then
// SHEDDABLE_PLUS, …); after CoolOff without overload it falls by one.
// CRITICAL_PLUS is never shed unless [Config.ShedCriticalPlus] is set.
//
// A refused call gets [levee.ErrShed] with a suggested Retry-After.
// Admission and release are a few atomic operations and allocate nothing;
// the estimate is recomputed at most once per bucket. All methods are safe
// for concurrent use. Build a Shedder with [New]: a zero Shedder refuses
// every call with [ErrNotBuilt].
type Shedder struct {
	inflight atomic.Int64
	level    atomic.Int32

	lastDrop      atomic.Int64    // nanotime of the last rejection
	lastLevelDrop atomic.Int64    // nanotime of the last over-estimate rejection at the level
	lastDropLevel atomic.Int32    // the level of lastLevelDrop
	lastOverload  atomic.Int64    // nanotime an admission last found the service over the estimate
	seen          [4]atomic.Int64 // nanotime a call of each rank last arrived

	cacheIdx atomic.Int64 // bucket the cached estimate was computed in
	cacheMax atomic.Int64 // cached maxInFlight, math.MaxInt64 for none

	buckets  []bucket
	bucketNs int64

	name      string
	cpu       CPUSource
	threshold float64
	coolOff   int64
	headroom  float64
	gain      float64
	maxLevel  int32
	spareTop  bool
	rejection error
	clk       clock.Clock

	permits settle.Table // the permits admitted and not yet settled

	listeners levee.Listeners
}

type bucket struct {
	idx   atomic.Int64
	pass  atomic.Int64
	rtSum atomic.Int64
	rtN   atomic.Int64
	_     [32]byte // keep neighbours off each other's cache line
}

// New returns a shedder configured by cfg, or an error naming the first
// invalid field.
func New(cfg Config) (*Shedder, error) {
	switch {
	case cfg.Window < 0:
		return nil, fmt.Errorf("shed: Config.Window = %v, want >= 0 (0 means 10s)", cfg.Window)
	case cfg.Buckets < 0:
		return nil, fmt.Errorf("shed: Config.Buckets = %d, want >= 0 (0 means 100)", cfg.Buckets)
	case cfg.CPUThreshold < 0 || cfg.CPUThreshold > 1 || math.IsNaN(cfg.CPUThreshold):
		return nil, fmt.Errorf("shed: Config.CPUThreshold = %v, want in (0, 1] (0 means 0.8)", cfg.CPUThreshold)
	case cfg.CoolOff < 0:
		return nil, fmt.Errorf("shed: Config.CoolOff = %v, want >= 0 (0 means 1s)", cfg.CoolOff)
	case cfg.Headroom != 0 && (cfg.Headroom < 1 || math.IsNaN(cfg.Headroom)):
		return nil, fmt.Errorf("shed: Config.Headroom = %v, want >= 1 (0 means 4)", cfg.Headroom)
	case cfg.Gain != 0 && (cfg.Gain < 1 || math.IsNaN(cfg.Gain)):
		return nil, fmt.Errorf("shed: Config.Gain = %v, want >= 1 (0 means 1.25)", cfg.Gain)
	case cfg.RetryAfter < 0:
		return nil, fmt.Errorf("shed: Config.RetryAfter = %v, want >= 0 (0 means CoolOff)", cfg.RetryAfter)
	}
	window, n := cfg.Window, cfg.Buckets
	if window == 0 {
		window = 10 * time.Second
	}
	if n == 0 {
		n = 100
	}
	if window/time.Duration(n) < time.Millisecond {
		return nil, fmt.Errorf("shed: Config.Window = %v over %d buckets is under 1ms a bucket", window, n)
	}
	s := &Shedder{
		buckets:   make([]bucket, n),
		bucketNs:  int64(window / time.Duration(n)),
		name:      cfg.Name,
		cpu:       cfg.CPU,
		threshold: cfg.CPUThreshold,
		coolOff:   int64(cfg.CoolOff),
		headroom:  cfg.Headroom,
		spareTop:  !cfg.ShedCriticalPlus,
		clk:       clock.Or(cfg.Clock),
		maxLevel:  2,
	}
	if s.threshold == 0 {
		s.threshold = 0.8
	}
	if s.coolOff == 0 {
		s.coolOff = int64(time.Second)
	}
	s.gain = cfg.Gain
	if s.gain == 0 {
		s.gain = 1.25
	}
	if s.headroom == 0 {
		s.headroom = 4
	}
	if cfg.ShedCriticalPlus {
		s.maxLevel = 3
	}
	wait := cfg.RetryAfter
	if wait == 0 {
		wait = time.Duration(s.coolOff)
	}
	s.rejection = levee.Reject(levee.ErrShed, wait)
	for i := range s.buckets {
		s.buckets[i].idx.Store(-1)
	}
	s.cacheIdx.Store(-1)
	for i := range s.seen {
		s.seen[i].Store(math.MinInt64 / 2)
	}
	return s, nil
}

// Stage returns [levee.StageLimit]: shedding comes before concurrency
// limits, beside rate limits.
func (s *Shedder) Stage() levee.Stage { return levee.StageLimit }

// OnEvent registers a listener for the shedder's events:
// [levee.EventRejected] for every refused call (Reason "level" when its
// criticality is below the shed level, "overload" otherwise; Value the
// calls in flight and Threshold the estimate of maxInFlight, both in calls,
// Threshold -1 for "level") and [levee.EventStateChange] when the shed
// level moves (From and To the lowest criticality admitted; Value the new
// level and Threshold the old one, as a [levee.Criticality.Rank]: calls of
// a lower rank are refused outright).
func (s *Shedder) OnEvent(fn levee.Listener) (remove func()) { return s.listeners.Add(fn) }

// Stat is a snapshot of a [Shedder].
type Stat struct {
	// InFlight is the calls admitted and not yet settled.
	InFlight int64
	// MaxInFlight is the estimate (with the gain), -1 while the window
	// holds no data.
	MaxInFlight int64
	// MaxPass is the most calls completed in one bucket; MinRT the lowest
	// average latency of a bucket.
	MaxPass int64
	MinRT   time.Duration
	// Level is the shed level: calls of a lower [levee.Criticality.Rank]
	// are refused outright.
	Level int
	// CPU is the usage the shedder sees, zero without a CPU source.
	CPU float64
}

// Stat returns a snapshot of the shedder's measurements.
func (s *Shedder) Stat() Stat {
	if s.clk == nil {
		return Stat{MaxInFlight: -1} // a zero value: nothing measured
	}
	now := s.clk.Nanotime()
	pass, rt := s.reduce(now / s.bucketNs)
	st := Stat{InFlight: s.inflight.Load(), MaxPass: pass, MinRT: time.Duration(rt), Level: int(s.level.Load()), MaxInFlight: -1}
	if m := s.maxInFlight(now); m != math.MaxInt64 {
		st.MaxInFlight = m
	}
	if s.cpu != nil {
		st.CPU = s.cpu.Usage()
	}
	return st
}

// Acquire admits or sheds a call by the load and the call's criticality.
func (s *Shedder) Acquire(ctx context.Context) (levee.Permit, error) {
	return s.AcquireCriticality(ctx, levee.CriticalityFrom(ctx))
}

// AcquireCriticality is [Shedder.Acquire] with the criticality given.
func (s *Shedder) AcquireCriticality(ctx context.Context, c levee.Criticality) (levee.Permit, error) {
	if s.clk == nil {
		return levee.Permit{}, ErrNotBuilt
	}
	now := s.clk.Nanotime()
	rank := int32(c.Rank())
	if rank == 3 && s.spareTop {
		return s.admit(now), nil
	}
	if seen := &s.seen[rank]; now-seen.Load() > int64(time.Millisecond) {
		seen.Store(now)
	}
	shedLvl := s.level.Load()
	if shedLvl > 0 && now-s.lastOverload.Load() > s.coolOff && s.level.CompareAndSwap(shedLvl, shedLvl-1) {
		s.lastOverload.Store(now) // the next step down waits another CoolOff
		s.levelChanged(ctx, shedLvl, shedLvl-1)
		shedLvl--
	}
	// The level being shed is the shed level or, above it, the lowest
	// criticality that calls arrive with.
	lvl := shedLvl
	for r := int32(0); r < rank && r < s.maxLevel; r++ {
		if now-s.seen[r].Load() <= s.coolOff {
			break
		}
		lvl = max(lvl, r+1)
	}
	if rank < lvl {
		return levee.Permit{}, s.reject(ctx, now, "level", -1)
	}
	if !s.engaged(now) {
		return s.admit(now), nil
	}
	inflight := s.inflight.Load()
	m := s.maxInFlight(now)
	if inflight <= 1 || inflight <= m {
		return s.admit(now), nil
	}
	s.lastOverload.Store(now)
	if rank == lvl {
		s.lastLevelDrop.Store(now)
		s.lastDropLevel.Store(lvl)
		return levee.Permit{}, s.reject(ctx, now, "overload", m)
	}
	// Above the level: the level's own calls are being shed and the load
	// still reaches this one: shed the level entirely.
	if lvl < s.maxLevel && s.lastDropLevel.Load() == lvl && now-s.lastLevelDrop.Load() <= s.bucketNs &&
		s.level.CompareAndSwap(shedLvl, lvl+1) {
		s.levelChanged(ctx, shedLvl, lvl+1)
	}
	if float64(inflight) > float64(m)*s.headroom {
		return levee.Permit{}, s.reject(ctx, now, "overload", m)
	}
	return s.admit(now), nil
}

func (s *Shedder) engaged(now int64) bool {
	if s.cpu == nil || s.cpu.Usage() >= s.threshold {
		return true
	}
	last := s.lastDrop.Load()
	return last != 0 && now-last <= s.coolOff
}

func (s *Shedder) admit(now int64) levee.Permit {
	n := s.inflight.Add(1)
	return levee.NewPermit(s, s.permits.Claim(0, n), now)
}

// InFlight returns how many admitted calls have not been settled yet.
func (s *Shedder) InFlight() int { return int(s.inflight.Load()) }

// Release records the call's latency in the window and frees its place.
// Only [levee.Permit] calls it. A permit settled before, one from an
// earlier admission and one the shedder did not issue change nothing.
func (s *Shedder) Release(p levee.Permit, o levee.Outcome) {
	if _, ok := s.permits.Settle(p.Token()); !ok {
		return
	}
	s.inflight.Add(-1)
	if o.Result == levee.Ignored {
		return
	}
	now := s.clk.Nanotime()
	rt := int64(o.Latency)
	if rt <= 0 {
		rt = max(now-p.Start(), 1)
	}
	idx := now / s.bucketNs
	b := &s.buckets[idx%int64(len(s.buckets))]
	if old := b.idx.Load(); old != idx && b.idx.CompareAndSwap(old, idx) {
		b.pass.Store(0)
		b.rtSum.Store(0)
		b.rtN.Store(0)
	}
	b.pass.Add(1)
	b.rtSum.Add(rt)
	b.rtN.Add(1)
}

// maxInFlight returns the estimate, recomputed once per bucket, or
// math.MaxInt64 while the window holds no completed bucket.
func (s *Shedder) maxInFlight(now int64) int64 {
	idx := now / s.bucketNs
	if s.cacheIdx.Load() == idx {
		return s.cacheMax.Load()
	}
	pass, rt := s.reduce(idx)
	m := int64(math.MaxInt64)
	if rt > 0 {
		m = int64(math.Floor(s.gain*float64(pass)*float64(rt)/float64(s.bucketNs) + 0.5))
	}
	s.cacheMax.Store(m)
	s.cacheIdx.Store(idx)
	return m
}

// reduce returns maxPass and minRT (ns, 0 for none) over the buckets of the
// window before bucket idx. Only buckets that completed at least half of
// maxPass calls count toward minRT: a nearly empty bucket holding a few
// fast calls would otherwise collapse the estimate, and with it the
// throughput that could correct it.
func (s *Shedder) reduce(idx int64) (maxPass, minRT int64) {
	n := int64(len(s.buckets))
	live := func(b *bucket) bool {
		bi := b.idx.Load()
		return bi >= 0 && bi < idx && bi > idx-n
	}
	maxPass = 1
	for i := range s.buckets {
		if b := &s.buckets[i]; live(b) {
			maxPass = max(maxPass, b.pass.Load())
		}
	}
	for i := range s.buckets {
		b := &s.buckets[i]
		cnt := b.rtN.Load()
		if !live(b) || cnt == 0 || 2*b.pass.Load() < maxPass {
			continue
		}
		avg := (b.rtSum.Load() + cnt - 1) / cnt
		if minRT == 0 || avg < minRT {
			minRT = avg
		}
	}
	return maxPass, minRT
}

func (s *Shedder) reject(ctx context.Context, now int64, reason string, m int64) error {
	s.lastDrop.Store(now)
	if s.listeners.Active() {
		s.listeners.Emit(levee.Event{Kind: levee.EventRejected, Policy: "shed", Name: s.name, Time: s.clk.Now(),
			Reason: reason, Value: float64(s.inflight.Load()), Threshold: float64(m), Wait: s.waitHint(), Err: s.rejection, Context: ctx})
	}
	return s.rejection
}

func (s *Shedder) waitHint() time.Duration {
	d, _ := levee.RetryAfter(s.rejection)
	return d
}

func (s *Shedder) levelChanged(ctx context.Context, from, to int32) {
	if s.listeners.Active() {
		s.listeners.Emit(levee.Event{Kind: levee.EventStateChange, Policy: "shed", Name: s.name, Time: s.clk.Now(),
			From: lowestAdmitted(from), To: lowestAdmitted(to), Value: float64(to), Threshold: float64(from), Context: ctx})
	}
}

// lowestAdmitted names the lowest criticality a shed level admits.
func lowestAdmitted(level int32) string {
	switch level {
	case 0:
		return levee.Sheddable.String()
	case 1:
		return levee.SheddablePlus.String()
	case 2:
		return levee.Critical.String()
	}
	return levee.CriticalPlus.String()
}

var (
	_ levee.Gate     = (*Shedder)(nil)
	_ levee.Releaser = (*Shedder)(nil)
	_ CPUSource      = (*CPUSampler)(nil)
)

// ErrNotBuilt is what a zero [Shedder] returns from Acquire: a shedder must
// come from [New], which applies the defaults a zero [Config] asks for.
var ErrNotBuilt = errors.New("shed: Shedder used as a zero value; build it with New")
