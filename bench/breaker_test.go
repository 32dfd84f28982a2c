package bench

import (
	"testing"
	"time"

	"github.com/afex/hystrix-go/hystrix"
	fscb "github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/sony/gobreaker/v2"
	zerobreaker "github.com/zeromicro/go-zero/core/breaker"
)

// The breaker figures measure the cost a breaker adds to one successful call
// (closed) or one refused call (open). The protected function does nothing,
// so the numbers are the breaker's own overhead. Every implementation is
// configured as close as it allows to Levee's: a window of the last 100
// calls (BreakerClosed) or of 10 s in 10 buckets (BreakerClosedTime), tripping
// at a 50% failure rate.
//
// sentinel-golang and mercari/go-circuitbreaker are not measured: the module
// proxy this project builds from refuses both modules (403, "not available").

type impl struct {
	name string
	run  func(b *testing.B)
}

func runImpls(b *testing.B, impls []impl) {
	for _, im := range impls {
		b.Run(im.name, func(b *testing.B) {
			b.ReportAllocs()
			im.run(b)
		})
	}
}

// BenchmarkBreakerClosed: count-based window, success path, one goroutine.
func BenchmarkBreakerClosed(b *testing.B) {
	runImpls(b, append(leveeBreakerClosed(), []impl{
		{"gobreaker", func(b *testing.B) {
			// gobreaker has no count window: with Interval 0 its counts cover
			// the whole closed period. ReadyToTrip applies the 50% rate over at
			// least 100 calls. TwoStepCircuitBreaker.Allow returns a done
			// callback, the shape middleware needs and its cheapest API.
			cb := gobreaker.NewTwoStepCircuitBreaker[any](gobreaker.Settings{
				ReadyToTrip: tripAtHalf(100),
			})
			for b.Loop() {
				done, err := cb.Allow()
				if err != nil {
					b.Fatal(err)
				}
				done(nil)
			}
		}},
		{"failsafe", func(b *testing.B) {
			// WithFailureThresholdRatio(50, 100) is failsafe-go's count window:
			// 50 failures in the last 100 calls. TryAcquirePermit/RecordSuccess
			// is its permit path, cheaper than failsafe.Run (no executor,
			// no result object).
			cb := fscb.NewBuilder[any]().WithFailureThresholdRatio(50, 100).Build()
			for b.Loop() {
				if !cb.TryAcquirePermit() {
					b.Fatal("failsafe: permit refused")
				}
				cb.RecordSuccess()
			}
		}},
		{"gozero", gozeroClosed},
		{"hystrix", hystrixClosed},
	}...))
}

// BenchmarkBreakerClosedTime: time-based window (10 s in 10 buckets), success
// path, one goroutine.
func BenchmarkBreakerClosedTime(b *testing.B) {
	runImpls(b, append(leveeBreakerClosedTime(), []impl{
		{"gobreaker", func(b *testing.B) {
			// Interval 10 s with BucketPeriod 1 s is gobreaker's rolling time
			// window; two-step Allow as in BreakerClosed.
			cb := gobreaker.NewTwoStepCircuitBreaker[any](gobreaker.Settings{
				Interval:     10 * time.Second,
				BucketPeriod: time.Second,
				ReadyToTrip:  tripAtHalf(20),
			})
			for b.Loop() {
				done, err := cb.Allow()
				if err != nil {
					b.Fatal(err)
				}
				done(nil)
			}
		}},
		{"failsafe", func(b *testing.B) {
			// WithFailureRateThreshold is failsafe-go's time window: 50% over
			// the last 10 s, with at least 20 calls; permit path.
			cb := fscb.NewBuilder[any]().WithFailureRateThreshold(0.5, 20, 10*time.Second).Build()
			for b.Loop() {
				if !cb.TryAcquirePermit() {
					b.Fatal("failsafe: permit refused")
				}
				cb.RecordSuccess()
			}
		}},
		{"gozero", gozeroClosed},
		{"hystrix", hystrixClosed},
	}...))
}

// BenchmarkBreakerClosedParallel: BreakerClosed from GOMAXPROCS goroutines
// sharing one breaker.
func BenchmarkBreakerClosedParallel(b *testing.B) {
	runImpls(b, append(leveeBreakerClosedParallel(), []impl{
		{"gobreaker", func(b *testing.B) {
			cb := gobreaker.NewTwoStepCircuitBreaker[any](gobreaker.Settings{
				ReadyToTrip: tripAtHalf(100),
			})
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					done, err := cb.Allow()
					if err != nil {
						b.Error(err)
						return
					}
					done(nil)
				}
			})
		}},
		{"failsafe", func(b *testing.B) {
			cb := fscb.NewBuilder[any]().WithFailureThresholdRatio(50, 100).Build()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if !cb.TryAcquirePermit() {
						b.Error("failsafe: permit refused")
						return
					}
					cb.RecordSuccess()
				}
			})
		}},
		{"gozero", func(b *testing.B) {
			cb := zerobreaker.NewBreaker()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p, err := cb.Allow()
					if err != nil {
						b.Error(err)
						return
					}
					p.Accept()
				}
			})
		}},
		{"hystrix", func(b *testing.B) {
			name := hystrixCommand(false)
			run := func() error { return nil }
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := hystrix.Do(name, run, nil); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}},
	}...))
}

// BenchmarkBreakerOpen: the cost of refusing a call while the breaker is
// open, tripped by real failures where the peer allows it. Each sub-benchmark
// fails if more than 1% of its calls were admitted.
func BenchmarkBreakerOpen(b *testing.B) {
	runImpls(b, append(leveeBreakerOpen(), []impl{
		{"gobreaker", func(b *testing.B) {
			// Tripped by 100 failures; Timeout 1 h keeps it open. Allow
			// returns gobreaker.ErrOpenState.
			cb := gobreaker.NewTwoStepCircuitBreaker[any](gobreaker.Settings{
				Timeout:     time.Hour,
				ReadyToTrip: tripAtHalf(100),
			})
			for range 100 {
				if done, err := cb.Allow(); err == nil {
					done(errBench)
				}
			}
			var r rejections
			for b.Loop() {
				if done, err := cb.Allow(); err == nil {
					r.passed.Add(1)
					done(errBench)
				}
			}
			r.check(b)
		}},
		{"failsafe", func(b *testing.B) {
			// Tripped by 100 recorded failures; a 1 h delay keeps it open.
			// TryAcquirePermit returns false.
			cb := fscb.NewBuilder[any]().WithFailureThresholdRatio(50, 100).WithDelay(time.Hour).Build()
			for range 100 {
				if cb.TryAcquirePermit() {
					cb.RecordFailure()
				}
			}
			if !cb.IsOpen() {
				b.Fatal("failsafe: breaker did not open")
			}
			var r rejections
			for b.Loop() {
				if cb.TryAcquirePermit() {
					r.passed.Add(1)
					cb.RecordFailure()
				}
			}
			r.check(b)
		}},
		{"gozero", func(b *testing.B) {
			// go-zero's breaker is Google SRE adaptive throttling: it has no
			// open state but drops calls with a probability that nears 1 as
			// failures pile up, and lets one call through per second. It is
			// tripped by failures until Allow refuses; each refusal formats
			// its report message (the reporter itself is off under go test).
			cb := zerobreaker.NewBreaker()
			for range 1000 {
				if p, err := cb.Allow(); err == nil {
					p.Reject("bench")
				}
			}
			var r rejections
			for b.Loop() {
				if p, err := cb.Allow(); err == nil {
					r.passed.Add(1)
					p.Reject("bench")
				}
			}
			r.check(b)
		}},
		{"hystrix", func(b *testing.B) {
			// Tripped by failing hystrix.Do calls (its metrics are collected
			// by a goroutine, so the setup waits for the circuit to open).
			// hystrix.Do then returns hystrix.ErrCircuitOpen.
			name := hystrixCommand(true)
			fail := func() error { return errBench }
			deadline := time.Now().Add(5 * time.Second)
			for {
				cb, _, err := hystrix.GetCircuit(name)
				if err != nil {
					b.Fatal(err)
				}
				if cb.IsOpen() {
					break
				}
				if time.Now().After(deadline) {
					b.Fatal("hystrix: circuit did not open")
				}
				for range 50 {
					_ = hystrix.Do(name, fail, nil)
				}
				time.Sleep(time.Millisecond)
			}
			var r rejections
			run := func() error { r.passed.Add(1); return errBench }
			for b.Loop() {
				_ = hystrix.Do(name, run, nil)
			}
			r.check(b)
		}},
	}...))
}

// tripAtHalf is gobreaker's ReadyToTrip for a 50% failure rate over at least
// min calls.
func tripAtHalf(min uint32) func(gobreaker.Counts) bool {
	return func(c gobreaker.Counts) bool {
		return c.Requests >= min && c.TotalFailures*2 >= c.Requests
	}
}

// gozeroClosed: go-zero's breaker has neither a count window nor a
// configurable one: its default is a 10 s window of 40 buckets feeding
// Google SRE adaptive throttling. Allow returns a Promise; Accept records
// the success. That is its cheapest public path (Do wraps it in a closure).
func gozeroClosed(b *testing.B) {
	cb := zerobreaker.NewBreaker()
	for b.Loop() {
		p, err := cb.Allow()
		if err != nil {
			b.Fatal(err)
		}
		p.Accept()
	}
}

// hystrixClosed: hystrix-go has no count window; its only window is a fixed
// 10 s of 1 s buckets. hystrix.Do is its public way to run a call: it starts
// goroutines, takes an executor-pool ticket and hands metrics to a collector
// goroutine. (CircuitBreaker.AllowRequest/ReportEvent exist, but ReportEvent
// drops metrics when the collector falls behind, so a loop of them would
// measure a breaker that stops counting.)
func hystrixClosed(b *testing.B) {
	name := hystrixCommand(false)
	run := func() error { return nil }
	for b.Loop() {
		if err := hystrix.Do(name, run, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// hystrixCommand configures a fresh hystrix command: 50% error threshold,
// 20-call volume threshold (its default), and, when open is true, a 1 h
// sleep window so that a tripped circuit stays open. hystrix returns a call's
// executor ticket from a goroutine after the call has returned, so on a
// loaded machine tickets pile up faster than they come back: the
// concurrency limit is set far above anything a benchmark runs at once so
// that it never refuses (10,000 did, under RunParallel).
func hystrixCommand(open bool) string {
	name := uniqueName("hystrix")
	sleep := 5000
	if open {
		sleep = int(time.Hour / time.Millisecond)
	}
	hystrix.ConfigureCommand(name, hystrix.CommandConfig{
		Timeout:                1000,
		MaxConcurrentRequests:  1 << 20,
		RequestVolumeThreshold: 20,
		SleepWindow:            sleep,
		ErrorPercentThreshold:  50,
	})
	return name
}
