package bench

import (
	"errors"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
)

// Levee's breaker sub-benchmarks: Allow returns a levee.Permit by value and
// Permit.Done reports the outcome; that is the two-step path middleware and
// pipelines use, and it allocates nothing.

func leveeBreakerClosed() []impl {
	return []impl{{"levee", func(b *testing.B) {
		// Count window of the last 100 calls, opening at 50% failures.
		benchLeveeClosed(b, newLeveeBreaker(b, breaker.Config{WindowSize: 100, FailureRate: 50}))
	}}}
}

func leveeBreakerClosedTime() []impl {
	return []impl{
		{"levee", func(b *testing.B) {
			// Time window of 10 s in 10 buckets, opening at 50% failures.
			benchLeveeClosed(b, newLeveeBreaker(b, breaker.Config{
				WindowDuration: 10 * time.Second, WindowBuckets: 10, FailureRate: 50,
			}))
		}},
		{"levee/adaptive", func(b *testing.B) {
			// Levee's SRE adaptive throttling, set up like go-zero's breaker
			// (10 s in 40 buckets): the like-for-like match for gozero.
			benchLeveeClosed(b, newLeveeBreaker(b, breaker.Config{
				Adaptive: true, WindowDuration: 10 * time.Second, WindowBuckets: 40,
			}))
		}},
	}
}

func leveeBreakerClosedParallel() []impl {
	return []impl{{"levee", func(b *testing.B) {
		cb := newLeveeBreaker(b, breaker.Config{WindowSize: 100, FailureRate: 50})
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, err := cb.Allow()
				if err != nil {
					b.Error(err)
					return
				}
				p.Done(nil)
			}
		})
	}}}
}

func leveeBreakerOpen() []impl {
	return []impl{
		{"levee", func(b *testing.B) {
			// Tripped by 100 failures; OpenWait 1 h keeps it open. The figure
			// is the whole Allow call returning its rejection error.
			benchLeveeOpen(b, newLeveeBreaker(b, breaker.Config{
				WindowSize: 100, FailureRate: 50, OpenWait: time.Hour,
			}))
		}},
		{"levee/adaptive", func(b *testing.B) {
			// Adaptive throttling after failures only: rejects with a
			// probability near 1, like gozero.
			benchLeveeOpen(b, newLeveeBreaker(b, breaker.Config{
				Adaptive: true, WindowDuration: 10 * time.Second, WindowBuckets: 40,
			}))
		}},
	}
}

func newLeveeBreaker(b *testing.B, cfg breaker.Config) *breaker.Breaker {
	cb, err := breaker.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return cb
}

func benchLeveeClosed(b *testing.B, cb *breaker.Breaker) {
	for b.Loop() {
		p, err := cb.Allow()
		if err != nil {
			b.Fatal(err)
		}
		p.Done(nil)
	}
}

func benchLeveeOpen(b *testing.B, cb *breaker.Breaker) {
	for range 1000 {
		if p, err := cb.Allow(); err == nil {
			p.Done(errBench)
		}
	}
	if _, err := cb.Allow(); !errors.Is(err, levee.ErrRejected) {
		b.Fatalf("Allow() after 1000 failures = %v, want a rejection", err)
	}
	var r rejections
	for b.Loop() {
		if p, err := cb.Allow(); err == nil {
			r.passed.Add(1)
			p.Done(errBench)
		}
	}
	r.check(b)
}
