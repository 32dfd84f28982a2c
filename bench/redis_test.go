package bench

import (
	"context"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/zeromicro/go-zero/core/limit"
	zeroredis "github.com/zeromicro/go-zero/core/stores/redis"
)

// The Redis figures measure one distributed admission decision against the
// Redis at 127.0.0.1:6379, on the admitted path: 1e6 per second with a
// burst of 1e8 that no run spends (leased decisions pass 1e6 per second).
// RedisLimiter runs one caller; RedisLimiterParallel runs 64 concurrent
// callers (SetParallelism). Both report decisions/s and
// roundtrips/decision, counted by a go-redis hook on every client (go-zero's
// client accepts the same hook): one per command sent alone, one per
// pipeline. ping is the floor: one PING round trip with go-redis v9.
//
// Without a Redis they skip, or fail when the CI environment variable is set.

const (
	redisAddr      = "127.0.0.1:6379"
	redisRate      = 1_000_000   // per second, the most redislimit accepts (1µs per call)
	redisBurst     = 100_000_000 // never spent by a benchmark, even with leasing
	redisCallers   = 64
	redisKeyPrefix = "levee-bench:"
)

// redisImpl builds one distributed limiter on a client that counts its
// round trips into rt; decide makes one decision and reports whether it was
// admitted.
type redisImpl struct {
	name string
	new  func(tb testing.TB, key string, rt *atomic.Int64) (decide func(ctx context.Context) (bool, error))
	// oneTrip marks a limiter that answers from a local fallback when Redis
	// fails without saying so: each of its decisions must be a round trip,
	// or the figure measured the fallback and the benchmark fails.
	oneTrip bool
}

func redisImpls() []redisImpl {
	return append(leveeRedisLimiters(), []redisImpl{
		{
			// go-redis/redis_rate v10: GCRA in one Lua script (EVALSHA),
			// Allow with the shared rate and burst.
			name: "redisrate",
			new: func(tb testing.TB, key string, rt *atomic.Int64) func(context.Context) (bool, error) {
				return redisRateDecide(redis_rate.NewLimiter(newRedisClient(tb, rt)), key)
			},
		},
		{
			// redis_rate on go-redis's own automatic pipelining (the
			// blocking AutoPipeline face, default options): concurrent
			// callers' scripts share pipelines, as redislimit's do. It is
			// redis_rate's fastest use with many callers; with one caller
			// there is nothing to batch.
			name: "redisrate/autopipeline",
			new: func(tb testing.TB, key string, rt *atomic.Int64) func(context.Context) (bool, error) {
				ap, err := newRedisClient(tb, rt).AutoPipeline()
				if err != nil {
					tb.Fatal(err)
				}
				return redisRateDecide(redis_rate.NewLimiter(ap), key)
			},
		},
		{
			// go-zero core/limit TokenLimiter: token bucket in one Lua
			// script on go-zero's own Redis client. It falls back to a local
			// limiter when Redis fails, without saying so: oneTrip makes the
			// benchmark fail then.
			name:    "gozero",
			oneTrip: true,
			new: func(tb testing.TB, key string, rt *atomic.Int64) func(context.Context) (bool, error) {
				store := gozeroRedis(rt)
				lim := limit.NewTokenLimiter(redisRate, redisBurst, store, key)
				// A TokenLimiter on a shared store may still be on its
				// local fallback from an earlier overload; it pings Redis
				// every 100ms to return. Wait until decisions reach Redis.
				for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
					n := rt.Load()
					lim.AllowCtx(context.Background())
					if rt.Load() > n {
						break
					}
					if time.Since(start) > 5*time.Second {
						tb.Fatal("go-zero's TokenLimiter stayed on its local fallback for 5s")
					}
				}
				return func(ctx context.Context) (bool, error) {
					return lim.AllowCtx(ctx), nil
				}
			},
		},
		{
			// A plain PING with go-redis v9: the round trip every
			// distributed decision pays at least once.
			name: "ping",
			new: func(tb testing.TB, _ string, rt *atomic.Int64) func(context.Context) (bool, error) {
				rdb := newRedisClient(tb, rt)
				return func(ctx context.Context) (bool, error) {
					return true, rdb.Ping(ctx).Err()
				}
			},
		},
	}...)
}

// redisRateDecide makes one redis_rate decision for key at the shared rate
// and burst.
func redisRateDecide(lim *redis_rate.Limiter, key string) func(context.Context) (bool, error) {
	limit := redis_rate.Limit{Rate: redisRate, Burst: redisBurst, Period: time.Second}
	return func(ctx context.Context) (bool, error) {
		res, err := lim.Allow(ctx, key, limit)
		if err != nil {
			return false, err
		}
		return res.Allowed > 0, nil
	}
}

// BenchmarkRedisLimiter: one caller.
func BenchmarkRedisLimiter(b *testing.B) { benchRedis(b, 1) }

// BenchmarkRedisLimiterParallel: 64 concurrent callers.
func BenchmarkRedisLimiterParallel(b *testing.B) { benchRedis(b, redisCallers) }

func benchRedis(b *testing.B, callers int) {
	requireRedis(b)
	for _, im := range redisImpls() {
		b.Run(im.name, func(b *testing.B) {
			b.ReportAllocs()
			var rt atomic.Int64
			key := uniqueName(redisKeyPrefix + im.name)
			decide := im.new(b, key, &rt)
			ctx := context.Background()
			// Load the scripts and open the connections the callers will
			// use, so that neither is counted as a round trip of the figure.
			var warm sync.WaitGroup
			errs := make(chan error, callers)
			for range callers {
				warm.Go(func() {
					for range 10 {
						if _, err := decide(ctx); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			warm.Wait()
			close(errs)
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
			var refused atomic.Int64
			rt.Store(0)
			b.ResetTimer()
			if callers == 1 {
				for range b.N {
					ok, err := decide(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if !ok {
						refused.Add(1)
					}
				}
			} else {
				b.SetParallelism((callers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						ok, err := decide(ctx)
						if err != nil {
							b.Error(err)
							return
						}
						if !ok {
							refused.Add(1)
						}
					}
				})
			}
			b.StopTimer()
			if n := refused.Load(); n > 0 {
				b.Fatalf("%d of %d decisions refused, want all admitted", n, b.N)
			}
			if im.oneTrip && rt.Load() < int64(b.N) {
				b.Fatalf("%s made %d round trips for %d decisions: the rest came from its local fallback, so the figure does not measure Redis", im.name, rt.Load(), b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
			b.ReportMetric(float64(rt.Load())/float64(b.N), "roundtrips/decision")
		})
	}
}

// requireRedis skips tb (fails it under CI) when no Redis answers.
func requireRedis(tb testing.TB) {
	tb.Helper()
	c, err := net.DialTimeout("tcp", redisAddr, time.Second)
	if err == nil {
		c.Close()
		return
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("Redis at %s is required under CI: %v", redisAddr, err)
	}
	tb.Skipf("skipping: no Redis at %s (%v); start one to run the Redis figures", redisAddr, err)
}

// newRedisClient returns a go-redis client whose round trips are counted
// into rt, sized for the parallel figure, closed when tb ends.
func newRedisClient(tb testing.TB, rt *atomic.Int64) *redis.Client {
	rdb := redis.NewClient(&redis.Options{
		Addr:     redisAddr,
		PoolSize: redisCallers,
		// Lets a per-call context deadline bound the call (redislimit
		// requires it); it costs nothing when the context has none.
		ContextTimeoutEnabled: true,
	})
	rdb.AddHook(countHook{rt})
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}

// go-zero keeps one client per address for the whole process, hooks and
// all, so every gozero sub-benchmark shares one and swaps the counter it
// reports into.
var (
	gozeroOnce    sync.Once
	gozeroStore   *zeroredis.Redis
	gozeroCounter atomic.Pointer[atomic.Int64]
)

func gozeroRedis(rt *atomic.Int64) *zeroredis.Redis {
	gozeroCounter.Store(rt)
	gozeroOnce.Do(func() {
		// WithIdentity sets go-redis's DisableIdentity, despite its name:
		// each new connection otherwise sends CLIENT SETINFO, which Redis
		// before 7.2 refuses, and go-zero's breaker counts every refusal
		// until it opens and the limiter runs on its local fallback.
		gozeroStore = zeroredis.New(redisAddr, zeroredis.WithHook(gozeroHook{}), zeroredis.WithIdentity())
	})
	return gozeroStore
}

// countHook counts round trips: one per command sent alone, one per pipeline.
type countHook struct{ n *atomic.Int64 }

func (h countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// gozeroHook is countHook reading its counter from gozeroCounter.
type gozeroHook struct{}

func (gozeroHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (gozeroHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		gozeroCounter.Load().Add(1)
		return next(ctx, cmd)
	}
}

func (gozeroHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		gozeroCounter.Load().Add(1)
		return next(ctx, cmds)
	}
}
