package redislimit_test

import (
	"context"
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
				l.AllowKey(ctx, "k")
			}
			bad := 0
			allocs := testing.AllocsPerRun(200, func() {
				d, _ := l.AllowKey(ctx, "k")
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

func benchLimiter(b *testing.B, lease int) (*redislimit.Limiter, *countHook) {
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

func runBench(b *testing.B, lease int, parallel bool) {
	l, h := benchLimiter(b, lease)
	ctx := context.Background()
	l.AllowKey(ctx, "hot") // load the script
	b.ReportAllocs()
	b.ResetTimer()
	// Script runs only: new connections' handshakes are not decisions.
	trips := func() int64 { return h.count("evalsha") + h.count("eval") }
	start := trips()
	if parallel {
		b.SetParallelism(64)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := l.AllowKey(ctx, "hot"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	} else {
		for b.Loop() {
			if _, err := l.AllowKey(ctx, "hot"); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(trips()-start)/float64(b.N), "trips/op")
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
