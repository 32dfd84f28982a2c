package hedge

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
)

// A Budget bounds extra attempts across all the calls to one dependency.
// Retry budgets from package retry satisfy it, so hedges and retries to one
// dependency can draw from one budget.
type Budget interface {
	// TryRetry reports whether one more attempt may be made now, and if so
	// takes it from the budget.
	TryRetry() bool
}

// Config configures a [Hedger]. The zero value is ready to use: one hedge
// after 100ms, no budget.
type Config struct {
	// Name labels the policy's events.
	Name string
	// MaxHedges is the most extra attempts a call starts besides the
	// first. Default 1. Zero means the default; negative values are
	// refused.
	MaxHedges int
	// Delay is the wait before each hedge: after the first attempt has run
	// this long without an answer, a second starts, and so on. With
	// Percentile set it is used until enough latencies are known. Default
	// 100ms. Zero means the default; negative values are refused.
	Delay time.Duration
	// Percentile, when set, replaces the fixed delay with the given
	// percentile (0.95 for p95) of the latencies of recent successful
	// attempts, so that only the slowest calls are hedged. Zero means a
	// fixed delay; values outside [0, 1) are refused.
	Percentile float64
	// MinSamples is the number of latencies needed before Percentile is
	// used. Default 20. Zero means the default; negative values and values
	// above the reservoir's size (128) are refused.
	MinSamples int
	// Budget, when set, is asked before each hedge; a refusal stops
	// hedging for the call (the attempts in flight go on). Nil means no
	// budget.
	Budget Budget
	// CountRequests makes the hedger count each call in the budget, when
	// the budget has a method Request() (as the retry budgets do). Set it
	// when no retry policy over the same budget counts the calls already;
	// a ratio budget needs the count to allow anything beyond its minimum.
	CountRequests bool
	// Classifier decides which results are acceptable: any result that is
	// neither a failure nor a rejection wins. Nil means
	// [levee.DefaultClassifier]. Use the pipeline's classifier here when it
	// has its own.
	Classifier levee.Classifier
	// Clock times the delays and latencies and stamps events. Nil means
	// [clock.Real].
	Clock clock.Clock
}

// reservoirSize is the number of recent latencies a Hedger keeps.
const reservoirSize = 128

// recomputeEvery is how many new latencies cause the percentile to be
// computed again.
const recomputeEvery = 8

// Hedger cuts tail latency by starting another attempt when the first is
// slow: after a delay (fixed, or a percentile of recent latencies) a second
// attempt starts, up to MaxHedges extra ones, and the first acceptable
// result wins. The others' contexts are cancelled at once; they end in their
// own goroutines, which exit as soon as the call honours its context, and
// their results are dropped. A failed attempt does not start a hedge (that
// is retry's job): the call returns the last failure once no attempt is left
// running.
//
// Hedger implements [levee.Wrapper]; its stage, [levee.StageHedge], puts it
// inside retry and outside breakers and limits, so each hedge passes the
// gates like any attempt. Only hedge idempotent calls. One Hedger serves any
// number of goroutines. The zero Hedger is ready to use, as one made by
// New(Config{}).
type Hedger struct {
	cfg       Config
	maxHedges int
	fixed     time.Duration
	minSample int64
	clk       clock.Clock
	requester interface{ Request() }

	count     atomic.Int64
	samples   [reservoirSize]atomic.Int64
	computing atomic.Bool
	delay     atomic.Int64 // current delay, ns

	listeners levee.Listeners
	once      sync.Once // gives a zero Hedger the zero Config's settings
	calls     sync.Pool // of *call
}

// New returns a Hedger configured by cfg, or an error naming the first
// invalid field.
func New(cfg Config) (*Hedger, error) {
	h := &Hedger{cfg: cfg, clk: clock.Or(cfg.Clock)}
	switch {
	case cfg.MaxHedges < 0:
		return nil, fmt.Errorf("hedge: Config.MaxHedges = %d, want 0 (default 1) or positive", cfg.MaxHedges)
	case cfg.MaxHedges == 0:
		h.maxHedges = 1
	default:
		h.maxHedges = cfg.MaxHedges
	}
	switch {
	case cfg.Delay < 0:
		return nil, fmt.Errorf("hedge: Config.Delay = %v, want 0 (default 100ms) or positive", cfg.Delay)
	case cfg.Delay == 0:
		h.fixed = 100 * time.Millisecond
	default:
		h.fixed = cfg.Delay
	}
	if !(cfg.Percentile >= 0 && cfg.Percentile < 1) {
		return nil, fmt.Errorf("hedge: Config.Percentile = %v, want 0 (fixed delay) or in (0, 1)", cfg.Percentile)
	}
	switch {
	case cfg.MinSamples < 0 || cfg.MinSamples > reservoirSize:
		return nil, fmt.Errorf("hedge: Config.MinSamples = %d, want 0 (default 20) or in [1, %d]", cfg.MinSamples, reservoirSize)
	case cfg.MinSamples == 0:
		h.minSample = 20
	default:
		h.minSample = int64(cfg.MinSamples)
	}
	if cfg.CountRequests {
		h.requester, _ = cfg.Budget.(interface{ Request() })
	}
	h.delay.Store(int64(h.fixed))
	h.once.Do(func() {})
	return h, nil
}

// ready gives a zero Hedger the settings of the zero Config.
func (h *Hedger) ready() {
	h.once.Do(func() {
		h.maxHedges, h.fixed, h.minSample, h.clk = 1, 100*time.Millisecond, 20, clock.Real
		h.delay.Store(int64(h.fixed))
	})
}

// Stage returns [levee.StageHedge].
func (h *Hedger) Stage() levee.Stage { return levee.StageHedge }

// Delay returns the current wait before a hedge: the fixed delay, or the
// configured percentile of recent latencies once enough are known.
func (h *Hedger) Delay() time.Duration {
	h.ready()
	return time.Duration(h.delay.Load())
}

// OnEvent registers a listener for the policy's events: an
// [levee.EventHedge] each time a hedge starts (Attempt is its number, the
// first attempt being 1; Wait the delay), and an [levee.EventInfo] with
// Reason "budget-exhausted" when the budget refuses one.
func (h *Hedger) OnEvent(fn levee.Listener) (remove func()) { return h.listeners.Add(fn) }

type result struct {
	v       any
	err     error
	latency int64
}

// call is the machinery of one Execute that can outlive it: the channel
// the attempts answer on and the hedge timer. Attempts that lose still send
// on the channel after Execute has returned, so a call goes back to the
// Hedger's pool only when Execute and every attempt it launched are done
// with it (refs). The attempts' context is not pooled: callers may keep it.
type call struct {
	results chan result // buffered for every attempt: losers never block
	timer   clock.Timer // stopped and drained between uses
	refs    atomic.Int32
}

func (h *Hedger) getCall() *call {
	if c, ok := h.calls.Get().(*call); ok {
		return c
	}
	t := h.clk.NewTimer(time.Hour)
	stopTimer(t)
	return &call{results: make(chan result, 1+h.maxHedges), timer: t}
}

// done drops one reference to c; the last one empties c and pools it.
func (h *Hedger) done(c *call) {
	if c.refs.Add(-1) != 0 {
		return
	}
	for len(c.results) > 0 {
		<-c.results
	}
	h.calls.Put(c)
}

// stopTimer stops t and drains a fire that nobody read, so the next Reset
// starts clean on any clock.
func stopTimer(t clock.Timer) {
	t.Stop()
	select {
	case <-t.C():
	default:
	}
}

// Execute runs the call through next, hedging it as configured. When no
// hedge starts it costs two allocations: the attempts' context and the
// goroutine of the first attempt.
func (h *Hedger) Execute(ctx context.Context, next levee.Next) (any, error) {
	h.ready()
	if h.requester != nil {
		h.requester.Request()
	}
	hctx := &attemptCtx{Context: ctx}
	defer hctx.cancel(context.Canceled) // the losers' cancellation
	c := h.getCall()
	c.refs.Store(1) // Execute's own
	defer h.done(c)
	maxAttempts := 1 + h.maxHedges
	h.launch(hctx, next, c)
	started, running := 1, 1

	delay := h.Delay()
	c.timer.Reset(delay)
	defer stopTimer(c.timer)
	timerC := c.timer.C()

	var last result
	for {
		select {
		case r := <-c.results:
			running--
			if h.acceptable(r.err) {
				h.record(r.latency)
				return r.v, r.err
			}
			if _, ok := errors.AsType[*levee.PanicError](r.err); ok {
				return r.v, r.err
			}
			last = r
			if running == 0 {
				return last.v, last.err
			}
		case <-timerC:
			if h.cfg.Budget != nil && !h.cfg.Budget.TryRetry() {
				timerC = nil
				h.emit(levee.EventInfo, started+1, delay, "budget-exhausted")
				continue
			}
			started++
			running++
			h.emit(levee.EventHedge, started, delay, "")
			h.launch(hctx, next, c)
			if started < maxAttempts {
				c.timer.Reset(delay)
			} else {
				timerC = nil
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (h *Hedger) launch(ctx context.Context, next levee.Next, c *call) {
	c.refs.Add(1)
	go h.attempt(ctx, next, c)
}

// attempt runs one attempt and sends its result on c.
func (h *Hedger) attempt(ctx context.Context, next levee.Next, c *call) {
	start := h.clk.Nanotime()
	var r result
	defer func() {
		if p := recover(); p != nil {
			r = result{err: levee.NewPanicError(p)}
		}
		c.results <- r
		h.done(c)
	}()
	v, err := next.Run(ctx)
	r = result{v: v, err: err, latency: h.clk.Nanotime() - start}
}

func (h *Hedger) acceptable(err error) bool {
	return err == nil || (h.cfg.Classifier.Classify(err) != levee.Failure && !errors.Is(err, levee.ErrRejected))
}

func (h *Hedger) emit(kind levee.EventKind, attempt int, wait time.Duration, reason string) {
	if h.listeners.Active() {
		h.listeners.Emit(levee.Event{Kind: kind, Policy: "hedge", Name: h.cfg.Name, Time: h.clk.Now(),
			Attempt: attempt, Wait: wait, Reason: reason})
	}
}

// record adds a successful attempt's latency to the reservoir and, every few
// samples, recomputes the percentile delay. The recomputation copies the
// reservoir and sorts it; one goroutine at a time does it, others skip.
func (h *Hedger) record(latency int64) {
	if h.cfg.Percentile == 0 {
		return
	}
	n := h.count.Add(1)
	h.samples[(n-1)%reservoirSize].Store(latency)
	if n < h.minSample || (n != h.minSample && n%recomputeEvery != 0) {
		return
	}
	if !h.computing.CompareAndSwap(false, true) {
		return
	}
	defer h.computing.Store(false)
	var buf [reservoirSize]int64
	k := int(min(n, reservoirSize))
	for i := range k {
		buf[i] = h.samples[i].Load()
	}
	s := buf[:k]
	slices.Sort(s)
	idx := int(math.Ceil(h.cfg.Percentile*float64(k))) - 1
	h.delay.Store(s[max(idx, 0)])
}

var _ levee.Wrapper = (*Hedger)(nil)
