package retry

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
)

// A Budget bounds retries across all the calls to one dependency, so that
// during an outage retries cannot multiply the load on it. Make one budget
// per dependency and share it between every [Retry] (and hedger) that calls
// that dependency. [TokenBudget] and [RatioBudget] implement it; both are
// lock-free.
type Budget interface {
	// Request records one call, counted once however many attempts it
	// makes.
	Request()
	// Outcome records how one attempt ended.
	Outcome(r levee.Result)
	// TryRetry reports whether one more attempt (a retry or a hedge) may be
	// made now, and if so takes it from the budget.
	TryRetry() bool
}

// TokenBudgetConfig configures a [TokenBudget]. The zero value is ready to
// use.
type TokenBudgetConfig struct {
	// MaxTokens is the size of the bucket, which starts full. Default 100.
	// Zero means the default; negative values and values above 1e9 are
	// refused.
	MaxTokens float64
	// TokenRatio is the number of tokens a successful attempt returns (a
	// failed one takes one). It sets how many failures per success the
	// dependency may show before retries stop: with 0.1, retries stop when
	// more than about one attempt in eleven fails. Default 0.1. Zero means
	// the default; negative values are refused. Precision is 0.001.
	TokenRatio float64
}

// TokenBudget is the retry throttle of gRPC: a bucket of MaxTokens tokens,
// initially full; each failed attempt takes one token, each successful
// attempt returns TokenRatio tokens (never above MaxTokens), and a retry is
// allowed only while more than MaxTokens/2 tokens remain. Retries themselves
// take nothing: it is failures that drain the bucket, so a dependency that
// fails most calls soon gets no retries, and one that recovers earns them
// back.
//
// Tokens are kept in thousandths in one atomic integer, so a TokenBudget is
// lock-free and safe for concurrent use.
type TokenBudget struct {
	milli     atomic.Int64
	max       int64
	ratio     int64
	threshold int64
}

// NewTokenBudget returns a full token budget.
func NewTokenBudget(cfg TokenBudgetConfig) (*TokenBudget, error) {
	if cfg.MaxTokens < 0 || cfg.MaxTokens > 1e9 || math.IsNaN(cfg.MaxTokens) {
		return nil, fmt.Errorf("retry: TokenBudgetConfig.MaxTokens = %v, want 0 (default 100) or in (0, 1e9]", cfg.MaxTokens)
	}
	if cfg.TokenRatio < 0 || cfg.TokenRatio > 1e9 || math.IsNaN(cfg.TokenRatio) {
		return nil, fmt.Errorf("retry: TokenBudgetConfig.TokenRatio = %v, want 0 (default 0.1) or in (0, 1e9]", cfg.TokenRatio)
	}
	if cfg.MaxTokens == 0 {
		cfg.MaxTokens = 100
	}
	if cfg.TokenRatio == 0 {
		cfg.TokenRatio = 0.1
	}
	b := &TokenBudget{
		max:   int64(math.Round(cfg.MaxTokens * 1000)),
		ratio: max(int64(math.Round(cfg.TokenRatio*1000)), 1),
	}
	b.threshold = b.max / 2
	b.milli.Store(b.max)
	return b, nil
}

// Tokens returns the tokens left.
func (b *TokenBudget) Tokens() float64 { return float64(b.milli.Load()) / 1000 }

// Request does nothing: a token budget counts outcomes, not calls.
func (b *TokenBudget) Request() {}

// Outcome takes a token for a failure and returns TokenRatio tokens for a
// success. Ignored outcomes change nothing.
func (b *TokenBudget) Outcome(r levee.Result) {
	var delta int64
	switch r {
	case levee.Failure:
		delta = -1000
	case levee.Success:
		delta = b.ratio
	default:
		return
	}
	for {
		old := b.milli.Load()
		nxt := min(max(old+delta, 0), b.max)
		if nxt == old || b.milli.CompareAndSwap(old, nxt) {
			return
		}
	}
}

// TryRetry reports whether more than half the tokens remain.
func (b *TokenBudget) TryRetry() bool { return b.milli.Load() > b.threshold }

// RatioBudgetConfig configures a [RatioBudget]. The zero value is ready to
// use.
type RatioBudgetConfig struct {
	// Ratio is the share of calls that may be retried over the window: 0.2
	// allows one retry for every five calls. Default 0.2. Zero means the
	// default; negative values are refused (use a tiny value, or
	// MinPerSecond alone, for "almost never").
	Ratio float64
	// MinPerSecond is the allowance of retries per second that holds
	// however few calls there are, so that a quiet client can still retry.
	// Default 10. Zero means the default; negative means no allowance.
	MinPerSecond float64
	// Window is how far back calls and retries are counted. Default 10s.
	// Zero means the default; values below 10ms are refused.
	Window time.Duration
	// Clock places calls in time. Nil means [clock.Real].
	Clock clock.Clock
}

// ratioBuckets is the number of slices of a RatioBudget's window.
const ratioBuckets = 10

// RatioBudget allows retries up to a share of the calls made over a rolling
// window, plus a minimum allowance per second: a retry is allowed while
// retries + 1 <= Ratio·calls + MinPerSecond·Window (both counted over the
// last Window). This is the retry budget of Finagle. A call is
// counted by [RatioBudget.Request]; each allowed retry by
// [RatioBudget.TryRetry].
//
// The window is ten slices, each an atomic word holding the slice's number
// and its count, so a RatioBudget is lock-free and safe for concurrent use.
// Under contention it may allow a few more retries than the formula says,
// never fewer. The zero RatioBudget is ready to use, as one made by
// NewRatioBudget(RatioBudgetConfig{}).
type RatioBudget struct {
	clk     clock.Clock
	width   int64
	ratio   float64
	minimum float64
	reqs    [ratioBuckets]atomic.Uint64
	rets    [ratioBuckets]atomic.Uint64
	once    sync.Once // gives a zero RatioBudget the zero config's settings
}

// NewRatioBudget returns an empty ratio budget.
func NewRatioBudget(cfg RatioBudgetConfig) (*RatioBudget, error) {
	if cfg.Ratio < 0 || math.IsNaN(cfg.Ratio) || math.IsInf(cfg.Ratio, 0) {
		return nil, fmt.Errorf("retry: RatioBudgetConfig.Ratio = %v, want 0 (default 0.2) or positive", cfg.Ratio)
	}
	if math.IsNaN(cfg.MinPerSecond) || math.IsInf(cfg.MinPerSecond, 0) {
		return nil, fmt.Errorf("retry: RatioBudgetConfig.MinPerSecond = %v, want a finite number", cfg.MinPerSecond)
	}
	if cfg.Window != 0 && cfg.Window < 10*time.Millisecond {
		return nil, fmt.Errorf("retry: RatioBudgetConfig.Window = %v, want 0 (default 10s) or at least 10ms", cfg.Window)
	}
	if cfg.Ratio == 0 {
		cfg.Ratio = 0.2
	}
	switch {
	case cfg.MinPerSecond == 0:
		cfg.MinPerSecond = 10
	case cfg.MinPerSecond < 0:
		cfg.MinPerSecond = 0
	}
	if cfg.Window == 0 {
		cfg.Window = 10 * time.Second
	}
	b := &RatioBudget{}
	b.configure(cfg)
	b.once.Do(func() {})
	return b, nil
}

// configure applies cfg, validated and with its defaults set.
func (b *RatioBudget) configure(cfg RatioBudgetConfig) {
	b.clk = clock.Or(cfg.Clock)
	b.width = int64(cfg.Window) / ratioBuckets
	b.ratio = cfg.Ratio
	b.minimum = cfg.MinPerSecond * cfg.Window.Seconds()
}

// ready gives a zero RatioBudget the defaults of NewRatioBudget.
func (b *RatioBudget) ready() {
	b.once.Do(func() {
		d, _ := NewRatioBudget(RatioBudgetConfig{}) // the zero config is valid
		b.clk, b.width, b.ratio, b.minimum = d.clk, d.width, d.ratio, d.minimum
	})
}

// Request counts one call.
func (b *RatioBudget) Request() {
	e := b.slice()
	bump(&b.reqs[e%ratioBuckets], e)
}

// Outcome does nothing: a ratio budget counts calls and retries, not
// outcomes.
func (b *RatioBudget) Outcome(levee.Result) {}

// TryRetry reports whether the window has room for one more retry, and
// counts it if so.
func (b *RatioBudget) TryRetry() bool {
	e := b.slice()
	reqs, rets := sum(&b.reqs, e), sum(&b.rets, e)
	if float64(rets)+1 > b.ratio*float64(reqs)+b.minimum {
		return false
	}
	bump(&b.rets[e%ratioBuckets], e)
	return true
}

// Counts returns the calls and retries counted in the current window.
func (b *RatioBudget) Counts() (calls, retries uint64) {
	e := b.slice()
	return sum(&b.reqs, e), sum(&b.rets, e)
}

func (b *RatioBudget) slice() uint32 {
	b.ready()
	return uint32(b.clk.Nanotime() / b.width)
}

// bump adds one to the slice word w for slice e: the word holds the slice
// number in its high half and the count in its low half. A word left from an
// older slice is restarted; a writer that fell behind (its slice is older
// than the word's) drops its count rather than wind the word back.
func bump(w *atomic.Uint64, e uint32) {
	for {
		old := w.Load()
		oe, n := uint32(old>>32), uint32(old)
		var nxt uint64
		switch {
		case oe == e:
			if n == math.MaxUint32 {
				return
			}
			nxt = old + 1
		case int32(e-oe) > 0 || old == 0:
			nxt = uint64(e)<<32 | 1
		default:
			return
		}
		if w.CompareAndSwap(old, nxt) {
			return
		}
	}
}

// sum adds the counts of the words whose slice lies in the window ending
// with slice e.
func sum(ws *[ratioBuckets]atomic.Uint64, e uint32) uint64 {
	var total uint64
	for i := range ws {
		w := ws[i].Load()
		if e-uint32(w>>32) < ratioBuckets {
			total += uint64(uint32(w))
		}
	}
	return total
}

// BudgetError is returned when a retry was due but its [Budget] refused it.
// It matches [levee.ErrBudgetExhausted] (and so [levee.ErrRejected]) as well
// as the last attempt's error, with errors.Is and errors.As.
type BudgetError struct {
	errs [2]error
}

// NewBudgetError returns a [BudgetError] carrying the last attempt's error.
func NewBudgetError(last error) *BudgetError {
	return &BudgetError{errs: [2]error{levee.ErrBudgetExhausted, last}}
}

// Err returns the last attempt's error.
func (e *BudgetError) Err() error { return e.errs[1] }

// Error describes the exhausted budget and the last error.
func (e *BudgetError) Error() string {
	if e.errs[1] == nil {
		return "retry: budget exhausted"
	}
	return "retry: budget exhausted: " + e.errs[1].Error()
}

// Unwrap returns [levee.ErrBudgetExhausted] and the last attempt's error.
func (e *BudgetError) Unwrap() []error {
	if e.errs[1] == nil {
		return e.errs[:1]
	}
	return e.errs[:]
}

var (
	_ Budget = (*TokenBudget)(nil)
	_ Budget = (*RatioBudget)(nil)
)
