package bench

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	fsrl "github.com/failsafe-go/failsafe-go/ratelimiter"
	uberrl "go.uber.org/ratelimit"
	"golang.org/x/time/rate"
)

// The limiter figures measure one local admission decision. LimiterAllow
// uses a rate (1e9 per second) that no loop here can exhaust, so every call
// is admitted; LimiterReject uses one permit per hour, spent before the
// timer starts, so every call is refused. A sub-benchmark fails if more
// than 1% of its calls went the other way.
//
// Where an implementation offers several algorithms the sub-benchmark is
// named <impl>/<mode>. sentinel-golang (flow rules) is not measured: the
// module proxy this project builds from refuses it.

const (
	allowRate  = 1e9       // per second; never exhausted by a benchmark loop
	allowBurst = 1_000_000 // 1 ms of allowRate
)

// allowLimiter is the common shape of one limiter under test: try to take
// one permit without waiting.
type allowLimiter func() bool

type limiterImpl struct {
	name string
	// newAllow builds a limiter that admits everything (nil if the
	// implementation has no such figure); newReject one that refuses
	// everything.
	newAllow, newReject func(tb testing.TB) allowLimiter
}

func limiterImpls() []limiterImpl {
	return append(leveeLimiters(), []limiterImpl{
		{
			// x/time/rate: token bucket; Allow is its non-blocking call.
			name: "xrate",
			newAllow: func(testing.TB) allowLimiter {
				return rate.NewLimiter(allowRate, allowBurst).Allow
			},
			newReject: func(testing.TB) allowLimiter {
				l := rate.NewLimiter(rate.Every(time.Hour), 1)
				l.Allow()
				return l.Allow
			},
		},
		{
			// x/time/rate at its fastest: AllowN with a time the caller
			// already has, here a reading refreshed every millisecond like
			// Levee's coarse clock, so neither pays a clock read per call.
			name: "xrate/coarse",
			newAllow: func(testing.TB) allowLimiter {
				l := rate.NewLimiter(allowRate, allowBurst)
				return func() bool { return l.AllowN(coarseTime(), 1) }
			},
			newReject: func(testing.TB) allowLimiter {
				l := rate.NewLimiter(rate.Every(time.Hour), 1)
				l.AllowN(coarseTime(), 1)
				return func() bool { return l.AllowN(coarseTime(), 1) }
			},
		},
		{
			// failsafe-go smooth: one permit per interval, no burst (a
			// leaky bucket); TryAcquirePermit is its non-blocking call.
			name: "failsafe/smooth",
			newAllow: func(testing.TB) allowLimiter {
				return fsrl.NewSmoothWithMaxRate[any](time.Nanosecond).TryAcquirePermit
			},
			newReject: func(testing.TB) allowLimiter {
				l := fsrl.NewSmoothWithMaxRate[any](time.Hour)
				l.TryAcquirePermit()
				return l.TryAcquirePermit
			},
		},
		{
			// failsafe-go bursty: N permits per fixed period.
			name: "failsafe/bursty",
			newAllow: func(testing.TB) allowLimiter {
				return fsrl.NewBursty[any](allowRate, time.Second).TryAcquirePermit
			},
			newReject: func(testing.TB) allowLimiter {
				l := fsrl.NewBursty[any](1, time.Hour)
				l.TryAcquirePermit()
				return l.TryAcquirePermit
			},
		},
		{
			// go.uber.org/ratelimit has only the blocking Take (a leaky
			// bucket), so it has no rejection figure. Its rate here is so
			// high (1e9 per second) that Take never sleeps: the figure is the
			// cost of the bookkeeping alone.
			name: "uber",
			newAllow: func(testing.TB) allowLimiter {
				l := uberrl.New(allowRate)
				return func() bool { l.Take(); return true }
			},
		},
	}...)
}

// coarseTime returns a time.Time refreshed every millisecond by one
// goroutine: the peers' counterpart of ratelimit's CoarseClock. failsafe-go
// and go.uber.org/ratelimit take no time from the caller (failsafe-go's
// stopwatch is internal; uber's clock option must also sleep), so they are
// measured on their own clocks.
func coarseTime() time.Time { return *coarse.Load() }

var (
	coarse     atomic.Pointer[time.Time]
	coarseOnce sync.Once
)

func init() {
	coarseOnce.Do(func() {
		now := time.Now()
		coarse.Store(&now)
		go func() {
			for now := range time.Tick(time.Millisecond) {
				coarse.Store(&now)
			}
		}()
	})
}

// BenchmarkLimiterAllow: admitted call, one goroutine.
func BenchmarkLimiterAllow(b *testing.B) { benchLimiter(b, true, false) }

// BenchmarkLimiterAllowParallel: admitted call, GOMAXPROCS goroutines
// sharing one limiter.
//
// Admitted-path figures report refused/op. It is 0 for a limiter that never
// refuses with room left, but not always for Levee's: its lock-free GCRA
// compares each caller's clock reading with the newest arrival time any
// caller stored, so a caller preempted for longer than the burst's span
// between reading the clock and deciding refuses a call the limiter has
// room for (AllowAt(now) then AllowAt(now-2ms) refuses with a 1 ms burst;
// x/time/rate clamps such a stale reading and admits). The burst here spans
// 1 ms; on a 2-core machine under a load average of 14, about one call in
// a million was refused.
func BenchmarkLimiterAllowParallel(b *testing.B) { benchLimiter(b, true, true) }

// BenchmarkLimiterReject: refused call, one goroutine.
func BenchmarkLimiterReject(b *testing.B) { benchLimiter(b, false, false) }

// BenchmarkLimiterRejectParallel: refused call, GOMAXPROCS goroutines
// sharing one limiter.
func BenchmarkLimiterRejectParallel(b *testing.B) { benchLimiter(b, false, true) }

func benchLimiter(b *testing.B, allow, parallel bool) {
	for _, im := range limiterImpls() {
		newL := im.newReject
		if allow {
			newL = im.newAllow
		}
		if newL == nil {
			continue
		}
		b.Run(im.name, func(b *testing.B) {
			b.ReportAllocs()
			try := newL(b)
			var passed, refused atomic.Int64
			if parallel {
				b.RunParallel(func(pb *testing.PB) {
					var p, r int64
					for pb.Next() {
						if try() {
							p++
						} else {
							r++
						}
					}
					passed.Add(p)
					refused.Add(r)
				})
			} else {
				var p, r int64
				for b.Loop() {
					if try() {
						p++
					} else {
						r++
					}
				}
				passed.Store(p)
				refused.Store(r)
			}
			// An admitted-path figure reports its (rare) refusals instead of
			// hiding them, and fails only when they are no longer rare.
			if allow {
				b.ReportMetric(float64(refused.Load())/float64(b.N), "refused/op")
				if n := refused.Load(); n*100 > int64(b.N) && n > 1 {
					b.Fatalf("%d of %d calls refused, want (almost) all admitted", n, b.N)
				}
			} else if n := passed.Load(); n*100 > int64(b.N) && n > 1 {
				b.Fatalf("%d of %d calls admitted, want (almost) all refused", n, b.N)
			}
		})
	}
}
