package ratelimit

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee/clock"
)

// CoarseResolution is how often the coarse clock (the CoarseClock option of
// [Config], [WindowConfig] and [KeyedConfig]) is refreshed.
const CoarseResolution = time.Millisecond

// The coarse clock: one goroutine per process, started by the first limiter
// that asks for it, stores a monotonic reading every CoarseResolution; a
// limiter's decision loads it instead of reading the system clock, which on
// some machines costs more than the rest of the decision.
var (
	coarseNow  atomic.Int64
	coarseOnce sync.Once
)

func startCoarse() {
	coarseOnce.Do(func() {
		coarseNow.Store(clock.Real.Nanotime())
		go func() {
			t := time.NewTicker(CoarseResolution)
			for range t.C {
				coarseNow.Store(clock.Real.Nanotime())
			}
		}()
	})
}

// coarseClock is clock.Real with Nanotime read from the coarse reading.
// Its readings are on Real's Nanotime scale, never ahead of it, and behind
// it by CoarseResolution plus however late the refreshing goroutine is
// scheduled.
type coarseClock struct{}

func (coarseClock) Nanotime() int64                      { return coarseNow.Load() }
func (coarseClock) Now() time.Time                       { return clock.Real.Now() }
func (coarseClock) NewTimer(d time.Duration) clock.Timer { return clock.Real.NewTimer(d) }
func (coarseClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	return clock.Real.AfterFunc(d, f)
}

var errCoarseAndClock = errors.New("ratelimit: CoarseClock and Clock are both set, want at most one")

// pickClock returns the clock a limiter runs on: c (or clock.Real), or the
// coarse clock when coarse is set.
func pickClock(c clock.Clock, coarse bool) (clock.Clock, error) {
	if !coarse {
		return clock.Or(c), nil
	}
	if c != nil {
		return nil, errCoarseAndClock
	}
	startCoarse()
	return coarseClock{}, nil
}

// exactNanotime returns a fresh reading of c, or of the system clock when c
// is the coarse clock: a limiter on the coarse clock confirms a refusal
// that a lagging reading could explain with an exact reading, so lag costs
// it a clock read on such refusals, never a wrong refusal.
func exactNanotime(c clock.Clock) int64 {
	if _, ok := c.(coarseClock); ok {
		return clock.Real.Nanotime()
	}
	return c.Nanotime()
}

func isCoarse(c clock.Clock) bool {
	_, ok := c.(coarseClock)
	return ok
}
