package redislimit_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/redislimit"
	"github.com/redis/go-redis/v9"
)

// TestLeasedDecisionAllocs pins the decisions made from a lease or a
// remembered refusal, the hot path leasing exists for, at zero allocations.
func TestLeasedDecisionAllocs(t *testing.T) {
	c := requireRedis(t)
	prefix := testPrefix(t, c)
	fake := clocktest.New(time.Unix(1_700_000_000, 0)) // still: leases never expire
	ctx := context.Background()
	tests := []struct {
		name            string
		limit, burst, n int
		allowed         bool
	}{
		{"admitted from a lease", 100_000, 10_000, 1000, true},
		{"refused from memory", 1, 1, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := redislimit.New(redislimit.Config{Client: c, Limit: tt.limit, Period: time.Hour, Burst: tt.burst,
				Lease: tt.n, Prefix: prefix + tt.name + ":", Clock: fake, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			for range 2100 { // leases double up to n: 1+2+…+512+1000
				redislimit.DecideForTest(l, ctx, "k")
			}
			bad := 0
			allocs := testing.AllocsPerRun(200, func() {
				d, _ := redislimit.DecideForTest(l, ctx, "k")
				if d.Source != redislimit.SourceLease || d.Allowed != tt.allowed {
					bad++
				}
			})
			if bad != 0 {
				t.Fatalf("%d of 201 decisions were not from the lease (allowed %v)", bad, tt.allowed)
			}
			if allocs != 0 {
				t.Errorf("AllowKey from a lease: %v allocations, want 0", allocs)
			}
		})
	}
}

func benchLimiter(b testing.TB, lease int) (*redislimit.Limiter, *countHook) {
	c := requireRedis(b)
	h := &countHook{}
	c.AddHook(h)
	l, err := redislimit.New(redislimit.Config{Client: c, Limit: 1_000_000, Burst: 1_000_000, Lease: lease,
		Prefix: testPrefix(b, c), Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	return l, h
}

// benchKeys spread the load so that no key reaches its limit (a million
// calls a second, the finest Period/Limit allows) and every call is admitted.
var benchKeys = [...]string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"}

func runBench(b *testing.B, lease int, parallel bool) {
	l, h := benchLimiter(b, lease)
	ctx := context.Background()
	for _, k := range benchKeys {
		redislimit.DecideForTest(l, ctx, k) // load the script, start the leases
	}
	b.ReportAllocs()
	b.ResetTimer()
	// Script runs only: new connections' handshakes are not decisions.
	trips := func() int64 { return h.count("evalsha") + h.count("eval") }
	start := trips()
	var ops atomic.Int64 // calls made, counted here rather than trusting b.N under b.Loop
	if parallel {
		b.SetParallelism(64)
		b.RunParallel(func(pb *testing.PB) {
			n := int64(0)
			for pb.Next() {
				n++
				if _, err := redislimit.DecideForTest(l, ctx, benchKeys[n%int64(len(benchKeys))]); err != nil {
					b.Error(err)
					break
				}
			}
			ops.Add(n)
		})
	} else {
		for i := 0; b.Loop(); i++ {
			ops.Add(1)
			d, err := redislimit.DecideForTest(l, ctx, benchKeys[i%len(benchKeys)])
			if err != nil || d.Source == redislimit.SourceFallback || !d.Allowed {
				b.Fatalf("AllowKey = %+v, %v; want allowed without fallback", d, err)
			}
		}
	}
	b.ReportMetric(float64(trips()-start)/float64(max(ops.Load(), 1)), "trips/op")
}

// BenchmarkAllow is one caller deciding on one key, one round trip each.
func BenchmarkAllow(b *testing.B) { runBench(b, 0, false) }

// BenchmarkAllowParallel is 64 goroutines per CPU on one key.
func BenchmarkAllowParallel(b *testing.B) { runBench(b, 0, true) }

// BenchmarkAllowLeased is one caller with leases of 100 tokens.
func BenchmarkAllowLeased(b *testing.B) { runBench(b, 100, false) }

// BenchmarkAllowLeasedParallel is 64 goroutines per CPU with leases of 100.
func BenchmarkAllowLeasedParallel(b *testing.B) { runBench(b, 100, true) }

// BenchmarkPing is a plain Redis round trip, the floor for BenchmarkAllow.
func BenchmarkPing(b *testing.B) {
	c := requireRedis(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPingParallel is PING from 64 goroutines per CPU.
func BenchmarkPingParallel(b *testing.B) {
	c := requireRedis(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(64)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := c.Ping(ctx).Err(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

var _ redis.Hook = (*countHook)(nil)
