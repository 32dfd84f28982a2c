package bench

import (
	"testing"
	"time"

	fsrl "github.com/failsafe-go/failsafe-go/ratelimiter"
	uberrl "go.uber.org/ratelimit"
	"golang.org/x/time/rate"
)

// The limiter figures measure one local admission decision. LimiterAllow
// uses a rate (1e9 per second) that no loop here can exhaust, so every call
// is admitted; LimiterReject uses one permit per hour, spent before the
// timer starts, so every call is refused. Each sub-benchmark of
// LimiterReject fails if more than 1% of its calls were admitted.
//
// Where an implementation offers several algorithms the sub-benchmark is
// named <impl>/<mode>. sentinel-golang (flow rules) is not measured: the
// module proxy this project builds from refuses it.

const (
	allowRate  = 1e9       // per second; never exhausted by a benchmark loop
	allowBurst = 1_000_000 // 1 ms of allowRate; see the note on LimiterAllowParallel
)

// allowLimiter is the common shape of one limiter under test: try to take
// one permit without waiting.
type allowLimiter func() bool

type limiterImpl struct {
	name string
	// newAllow builds a limiter that admits everything (nil if the
	// implementation has no such figure); newReject one that refuses
	// everything.
	newAllow, newReject func() allowLimiter
}

func limiterImpls() []limiterImpl {
	return append(leveeLimiters(), []limiterImpl{
		{
			// x/time/rate: token bucket; Allow is its non-blocking call.
			name: "xrate",
			newAllow: func() allowLimiter {
				return rate.NewLimiter(allowRate, allowBurst).Allow
			},
			newReject: func() allowLimiter {
				l := rate.NewLimiter(rate.Every(time.Hour), 1)
				l.Allow()
				return l.Allow
			},
		},
		{
			// failsafe-go smooth: one permit per interval, no burst (a
			// leaky bucket); TryAcquirePermit is its non-blocking call.
			name: "failsafe/smooth",
			newAllow: func() allowLimiter {
				return fsrl.NewSmoothWithMaxRate[any](time.Nanosecond).TryAcquirePermit
			},
			newReject: func() allowLimiter {
				l := fsrl.NewSmoothWithMaxRate[any](time.Hour)
				l.TryAcquirePermit()
				return l.TryAcquirePermit
			},
		},
		{
			// failsafe-go bursty: N permits per fixed period.
			name: "failsafe/bursty",
			newAllow: func() allowLimiter {
				return fsrl.NewBursty[any](allowRate, time.Second).TryAcquirePermit
			},
			newReject: func() allowLimiter {
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
			newAllow: func() allowLimiter {
				l := uberrl.New(allowRate)
				return func() bool { l.Take(); return true }
			},
		},
	}...)
}

// BenchmarkLimiterAllow: admitted call, one goroutine.
func BenchmarkLimiterAllow(b *testing.B) { benchLimiter(b, true, false) }

// BenchmarkLimiterAllowParallel: admitted call, GOMAXPROCS goroutines
// sharing one limiter.
//
// The burst is a whole millisecond of the rate on purpose. A lock-free GCRA
// (Levee's) compares each caller's clock reading with the newest arrival
// time any caller stored; a caller preempted between reading the clock and
// deciding carries an old reading, and with a burst of only 1µs (1000 at
// 1e9/s) a preemption longer than that makes it refuse a call the limiter
// has room for (seen here: about 1 in 10,000 on a busy 2-core machine).
// x/time/rate clamps a reading older than its last update and does not.
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
			try := newL()
			var r rejections
			if parallel {
				b.RunParallel(func(pb *testing.PB) {
					var passed, refused int64
					for pb.Next() {
						if try() {
							passed++
						} else {
							refused++
						}
					}
					if allow && refused > 0 {
						b.Errorf("%d calls refused, want all admitted", refused)
					}
					r.passed.Add(passed)
				})
			} else {
				for b.Loop() {
					if try() {
						r.passed.Add(1)
					} else if allow {
						b.Fatal("call refused, want all admitted")
					}
				}
			}
			if !allow {
				r.check(b)
			}
		})
	}
}
