package ratelimit_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/levee-go/levee/clock"
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
	// The limiter's own cost, without the clock read (which is a vDSO call
	// whose price depends on the machine).
	b.Run("at", func(b *testing.B) {
		b.ReportAllocs()
		now := int64(0)
		for b.Loop() {
			now++
			g.AllowAt(now)
		}
	})
	// On the coarse clock: the clock read is an atomic load.
	coarse := mustGCRA(b, ratelimit.Config{Rate: ratelimit.PerSecond(1e9), Burst: 1 << 30, CoarseClock: true})
	b.Run("coarse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			coarse.Allow()
		}
	})
	b.Run("coarse-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				coarse.Allow()
			}
		})
	})
}

// BenchmarkClock is the price of the clock read every call pays, for
// comparison with the limiters.
func BenchmarkClock(b *testing.B) {
	c := clock.Real
	var sink int64
	b.ReportAllocs()
	for b.Loop() {
		sink += c.Nanotime()
	}
	_ = sink
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
	ctx := context.Background()
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_, _ = k.DecideKey(ctx, keys[i%len(keys)])
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				_, _ = k.DecideKey(ctx, keys[i%len(keys)])
				i += 7
			}
		})
	})
}

// BenchmarkKeyedMemory reports the heap held per key with 1M keys.
func BenchmarkKeyedMemory(b *testing.B) {
	const n = 1 << 20
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%07d", i)
	}
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		k := mustKeyed(b, ratelimit.KeyedConfig{Rate: ratelimit.PerSecond(10), MaxKeys: n})
		for _, key := range keys {
			k.DecideKeyAt(key, 0)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/key")
		runtime.KeepAlive(k)
	}
}
