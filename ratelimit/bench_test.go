package ratelimit_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/levee-go/levee/ratelimit"
)

// The limiters run on the real clock here: the benchmarks include the
// clock read that every call pays.

func BenchmarkTokenBucketAllow(b *testing.B) {
	tb := mustBucket(b, ratelimit.Config{Rate: ratelimit.PerSecond(1e9), Burst: 1 << 30})
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tb.Allow()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				tb.Allow()
			}
		})
	})
}

func BenchmarkGCRAAllow(b *testing.B) {
	g := mustGCRA(b, ratelimit.Config{Rate: ratelimit.PerSecond(1e9), Burst: 1 << 30})
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			g.Allow()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				g.Allow()
			}
		})
	})
	b.Run("decide", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			g.Decide()
		}
	})
}

func BenchmarkGCRAReject(b *testing.B) {
	g := mustGCRA(b, ratelimit.Config{Rate: ratelimit.Every(time.Hour), Burst: 1})
	g.Allow()
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			g.Allow()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				g.Allow()
			}
		})
	})
}

func BenchmarkSlidingWindowAllow(b *testing.B) {
	w := mustWindow(b, ratelimit.WindowConfig{Rate: ratelimit.PerSecond(ratelimit.MaxWindowLimit)})
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w.Allow()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				w.Allow()
			}
		})
	})
}

func BenchmarkKeyed(b *testing.B) {
	k := mustKeyed(b, ratelimit.KeyedConfig{Rate: ratelimit.PerSecond(1e9), Burst: 1 << 30})
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = "tenant-" + strconv.Itoa(i)
		k.AllowKey(keys[i])
	}
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			k.DecideKey(keys[i%len(keys)])
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				k.DecideKey(keys[i%len(keys)])
				i += 7
			}
		})
	})
}
