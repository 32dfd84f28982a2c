package redislimit_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/redislimit"
)

// TestLeasing drives a hot key from four instances on a fake clock (the
// script is given the same clock), counts round trips with a client hook and
// measures the overshoot in every one-second window against the documented
// bound: min(Instances×Lease, LeaseTTL×rate) = 100 calls = 1% of the limit.
func TestLeasing(t *testing.T) {
	c := requireRedis(t)
	prefix := testPrefix(t, c)
	const (
		instances = 4
		limit     = 10_000 // per second
		burst     = 100
		lease     = 25
		step      = 100 * time.Microsecond // one token per step
	)
	tests := []struct {
		name  string
		every int // each instance calls once every so many steps
		calls int // that many times
		steps int
		over  bool // demand above the limit
	}{
		{"saturated: demand 4x the limit", 1, 1, 20_000, true},
		{"half load", 8, 1, 10_000, false},
		{"bursts: 30 calls every 5ms, 2.4x the limit", 50, 30, 20_000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := clocktest.New(time.Unix(1_700_000_000, 0))
			now := func() time.Duration { return time.Duration(fake.Now().UnixNano()) }
			hook := &countHook{}
			ls := make([]*redislimit.Limiter, instances)
			for i := range ls {
				cl := newClient(t, mainRedis)
				cl.AddHook(hook)
				l, err := redislimit.New(redislimit.Config{Client: cl, Limit: limit, Burst: burst, Lease: lease,
					Instances: instances, Prefix: prefix + tt.name + ":", Clock: fake, Timeout: 5 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				redislimit.SetNowForTest(l, now)
				ls[i] = l
			}
			ctx := context.Background()
			var admits []int // step of each admission, in order
			calls := 0
			for s := range tt.steps {
				for i, l := range ls {
					if (s+i*tt.every/instances)%tt.every != 0 {
						continue
					}
					for range tt.calls {
						calls++
						d, err := redislimit.DecideForTest(l, ctx, "hot")
						if err != nil || d.Source == redislimit.SourceFallback {
							t.Fatalf("step %d: AllowKey = %+v, %v; want a redis or lease decision", s, d, err)
						}
						if d.Allowed {
							admits = append(admits, s)
						}
					}
				}
				fake.Advance(step)
			}
			trips := hook.cmds.Load()
			// Most admissions in any one-second window, against what exact
			// GCRA allows there: the burst plus one token per step.
			window := int(time.Second / step)
			most := 0
			for i, j := 0, 0; j < len(admits); j++ {
				for admits[j]-admits[i] >= window {
					i++
				}
				most = max(most, j-i+1)
			}
			exact := burst + min(window, tt.steps)
			overshoot := max(0, most-exact)
			bound := int(math.Min(instances*lease, limit/100))
			t.Logf("%d calls, %d admitted, %d round trips (%.1fx fewer), most in 1s %d vs exact %d: overshoot %d (%.2f%% of limit), bound %d",
				calls, len(admits), trips, float64(calls)/float64(trips), most, exact, overshoot,
				100*float64(overshoot)/limit, bound)
			if trips*10 > int64(calls) {
				t.Errorf("%d round trips for %d calls, want at least 10x fewer", trips, calls)
			}
			if overshoot > bound {
				t.Errorf("overshoot %d in a one-second window, want <= %d", overshoot, bound)
			}
			if !tt.over && len(admits) != calls {
				t.Errorf("half load admitted %d of %d calls, want all", len(admits), calls)
			}
			// Over the whole run no more than the tokens Redis gave out, and
			// no fewer than those less what leases still held at the end.
			if total := burst + tt.steps; tt.over && (len(admits) > total || len(admits) < total-instances*lease) {
				t.Errorf("saturated: admitted %d, want %d..%d", len(admits), total-instances*lease, total)
			}
		})
	}
}

// TestLeaseTableFull checks that keys beyond MaxKeys are still decided, by a
// round trip each, and exactly.
func TestLeaseTableFull(t *testing.T) {
	c := requireRedis(t)
	fake := clocktest.New(time.Unix(1_700_000_000, 0))
	l, err := redislimit.New(redislimit.Config{Client: c, Limit: 2, Period: time.Hour, Lease: 2, MaxKeys: 2,
		Prefix: testPrefix(t, c), Clock: fake, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, key := range []string{"a", "b", "c", "d"} {
		var got []bool
		for range 3 {
			d, err := redislimit.DecideForTest(l, ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, d.Allowed)
		}
		if !got[0] || !got[1] || got[2] {
			t.Errorf("AllowKey(%s) x3 = %v, want [true true false]", key, got)
		}
	}
}
