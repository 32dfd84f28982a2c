package redislimit_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/redislimit"
	"github.com/redis/go-redis/v9"
)

func TestNewValidates(t *testing.T) {
	ok := redis.NewClient(&redis.Options{Addr: mainRedis, ContextTimeoutEnabled: true})
	defer ok.Close()
	noCtx := redis.NewClient(&redis.Options{Addr: mainRedis})
	defer noCtx.Close()
	tests := []struct {
		name  string
		cfg   redislimit.Config
		field string // empty: valid
	}{
		{"minimal", redislimit.Config{Client: ok, Limit: 1}, ""},
		{"no client", redislimit.Config{Limit: 1}, "Client"},
		{"zero limit", redislimit.Config{Client: ok}, "Limit"},
		{"negative limit", redislimit.Config{Client: ok, Limit: -1}, "Limit"},
		{"negative period", redislimit.Config{Client: ok, Limit: 1, Period: -time.Second}, "Period"},
		{"period too fine", redislimit.Config{Client: ok, Limit: 2_000_000}, "Period"},
		{"negative burst", redislimit.Config{Client: ok, Limit: 1, Burst: -1}, "Burst"},
		{"negative instances", redislimit.Config{Client: ok, Limit: 1, Instances: -2}, "Instances"},
		{"negative threshold", redislimit.Config{Client: ok, Limit: 1, FailureThreshold: -1}, "FailureThreshold"},
		{"negative cooldown", redislimit.Config{Client: ok, Limit: 1, Cooldown: -1}, "Cooldown"},
		{"negative lease", redislimit.Config{Client: ok, Limit: 1, Lease: -1}, "Lease"},
		{"lease above burst", redislimit.Config{Client: ok, Limit: 10, Burst: 5, Lease: 6}, "Lease"},
		{"negative lease ttl", redislimit.Config{Client: ok, Limit: 1, LeaseTTL: -1}, "LeaseTTL"},
		{"negative max keys", redislimit.Config{Client: ok, Limit: 1, MaxKeys: -1}, "MaxKeys"},
		{"hash tag in prefix", redislimit.Config{Client: ok, Limit: 1, Prefix: "rl:{x}:"}, "Prefix"},
		{"unknown fallback", redislimit.Config{Client: ok, Limit: 1, Fallback: 9}, "Fallback"},
		{"client ignores deadlines", redislimit.Config{Client: noCtx, Limit: 1}, "ContextTimeoutEnabled"},
		{"client ignores deadlines, no timeout", redislimit.Config{Client: noCtx, Limit: 1, Timeout: -1}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := redislimit.New(tt.cfg)
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("New(%+v) = %v, want no error", tt.cfg, err)
			case tt.field == "" && l == nil:
				t.Fatalf("New(%+v) = nil limiter", tt.cfg)
			case tt.field != "" && (err == nil || !strings.Contains(err.Error(), tt.field)):
				t.Fatalf("New(%+v) = %v, want an error naming %s", tt.cfg, err, tt.field)
			}
		})
	}
}

func TestDecideKeyNRange(t *testing.T) {
	c := requireRedis(t)
	l, err := redislimit.New(redislimit.Config{Client: c, Limit: 10, Burst: 4, Prefix: testPrefix(t, c)})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{-1, 0} {
		if _, err := l.DecideKeyN(context.Background(), "k", n); err == nil {
			t.Errorf("DecideKeyN(k, %d) = nil error, want out of range", n)
		}
	}
	// More than Burst: no wait would do, as the local limiters say.
	d, err := l.DecideKeyN(context.Background(), "k", 5)
	if err != nil || d.Allowed || d.RetryAfter != levee.Never || d.Limit != 4 || d.Rate != 10 {
		t.Errorf("DecideKeyN(k, 5) with Burst 4 = %+v, %v; want refused with RetryAfter Never", d, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.DecideKeyN(ctx, "k", 1); !errors.Is(err, context.Canceled) {
		t.Errorf("DecideKeyN(cancelled ctx) = %v, want context.Canceled", err)
	}
}

// TestDecisionFields checks the numbers returned for headers on a fresh key:
// Limit is the quota (Burst), Rate and Window the configured rate exactly,
// and an admission has no retry-after, as with the local limiters.
func TestDecisionFields(t *testing.T) {
	c := requireRedis(t)
	l, err := redislimit.New(redislimit.Config{Client: c, Limit: 2, Period: time.Minute, Burst: 3,
		Prefix: testPrefix(t, c), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ds [4]levee.Decision
	for i := range ds {
		if ds[i], err = l.DecideKey(ctx, "k"); err != nil {
			t.Fatal(err)
		}
	}
	for i, d := range ds[:3] {
		want := levee.Decision{Allowed: true, Limit: 3, Remaining: 2 - i, Reset: d.Reset, Rate: 2, Window: time.Minute}
		if d != want || d.Reset <= time.Duration(i)*30*time.Second || d.Reset > time.Duration(i+1)*30*time.Second {
			t.Errorf("DecideKey #%d = %+v, want %+v with reset in %ds", i+1, d, want, (i+1)*30)
		}
	}
	if d := ds[3]; d.Allowed || d.Remaining != 0 || d.RetryAfter <= 25*time.Second || d.RetryAfter > 30*time.Second ||
		d.Reset <= 85*time.Second || d.Reset > 90*time.Second || d.Limit != 3 || d.Rate != 2 || d.Window != time.Minute {
		t.Errorf("DecideKey #4 = %+v, want refused, retry in ~30s, reset in ~90s", d)
	}
	d, err := l.DecideKeyN(ctx, "other", 2)
	if err != nil || !d.Allowed || d.Remaining != 1 || d.RetryAfter != 0 {
		t.Errorf("DecideKeyN(other, 2) = %+v, %v, want both tokens, one left", d, err)
	}
	if n := l.Fallbacks(); n != 0 || l.UsingFallback() {
		t.Errorf("Fallbacks() = %d, UsingFallback() = %v; want every decision by Redis", n, l.UsingFallback())
	}
}

func TestAcquireIsAGate(t *testing.T) {
	c := requireRedis(t)
	l, err := redislimit.New(redislimit.Config{Name: "api", Client: c, Limit: 1, Period: time.Minute,
		Prefix: testPrefix(t, c), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Stage(); got != levee.StageLimit {
		t.Errorf("Stage() = %v, want StageLimit", got)
	}
	var events []levee.Event
	l.OnEvent(func(e levee.Event) { events = append(events, e) })
	ctx := context.Background()
	p, err := l.Acquire(ctx)
	if err != nil {
		t.Fatalf("Acquire #1 = %v, want admitted", err)
	}
	p.Done(nil)
	_, err = l.Acquire(ctx)
	if !errors.Is(err, levee.ErrLimited) || !errors.Is(err, levee.ErrRejected) {
		t.Fatalf("Acquire #2 = %v, want ErrLimited", err)
	}
	if wait, ok := levee.RetryAfter(err); !ok || wait < 50*time.Second || wait > time.Minute {
		t.Errorf("RetryAfter(Acquire #2) = %v, %v; want about a minute", wait, ok)
	}
	if len(events) != 1 || events[0].Kind != levee.EventRejected || events[0].Policy != "redislimit" || events[0].Name != "api" {
		t.Errorf("events = %+v, want one rejection from redislimit/api", events)
	}
	// Through a pipeline.
	pl := levee.New(l)
	_, err = levee.Do(ctx, pl, func(context.Context) (int, error) { return 1, nil })
	if !errors.Is(err, levee.ErrLimited) {
		t.Errorf("Do through the limiter = %v, want ErrLimited", err)
	}
	// AcquireKey gates any key: another key has its own token.
	var kg levee.KeyedGate = l
	if _, err := kg.AcquireKey(ctx, "other"); err != nil {
		t.Errorf("AcquireKey(other) #1 = %v, want admitted", err)
	}
	if _, err := kg.AcquireKey(ctx, "other"); !errors.Is(err, levee.ErrLimited) {
		t.Errorf("AcquireKey(other) #2 = %v, want ErrLimited", err)
	}
}

// TestSkewedInstancesAgree gives every instance a clock of its own, hours
// apart; decisions use the server's clock, so together they admit exactly
// the burst.
func TestSkewedInstancesAgree(t *testing.T) {
	c := requireRedis(t)
	prefix := testPrefix(t, c)
	const instances, burst = 3, 5
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for i := range instances {
		fake := clocktest.New(time.Unix(1_700_000_000+int64(i)*7200, 0))
		l, err := redislimit.New(redislimit.Config{Client: newClient(t, mainRedis), Limit: burst, Period: time.Hour,
			Prefix: prefix, Clock: fake, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 4 {
				if d, err := redislimit.DecideForTest(l, context.Background(), "k"); err == nil && d.Allowed {
					admitted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if got := admitted.Load(); got != burst {
		t.Errorf("admitted %d across %d skewed instances, want %d", got, instances, burst)
	}
}

// TestSharedKeyAcrossInstances hammers one key from several instances, each
// with its own connection, in real time, with and without leasing, and
// checks the fleet admitted what the limit allows over the run.
func TestSharedKeyAcrossInstances(t *testing.T) {
	c := requireRedis(t)
	prefix := testPrefix(t, c)
	const (
		instances = 4
		workers   = 4
		limit     = 200 // per second
		burst     = 20
		run       = 700 * time.Millisecond
	)
	tests := []struct {
		name  string
		lease int
	}{
		{"exact", 0},
		{"leased", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var admitted, redisDecisions atomic.Int64
			var wg sync.WaitGroup
			ls := make([]*redislimit.Limiter, instances)
			for i := range ls {
				l, err := redislimit.New(redislimit.Config{Client: newClient(t, mainRedis), Limit: limit, Burst: burst,
					Prefix: prefix + tt.name + ":", Lease: tt.lease, Instances: instances, Timeout: 2 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				ls[i] = l
			}
			start := time.Now()
			stop := start.Add(run)
			for _, l := range ls {
				for range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for time.Now().Before(stop) {
							d, err := redislimit.DecideForTest(l, context.Background(), "hot")
							if err != nil || d.Source == redislimit.SourceFallback {
								t.Errorf("AllowKey = %+v, %v; want a redis decision", d, err)
								return
							}
							if d.Allowed {
								admitted.Add(1)
							}
							if d.Source == redislimit.SourceRedis {
								redisDecisions.Add(1)
							}
						}
					}()
				}
			}
			wg.Wait()
			elapsed := time.Since(start)
			// The server saw the first and last decisions within elapsed, so
			// the limit allows at most burst + elapsed×rate (+1 for the token
			// in progress); leases may move up to min(instances×lease,
			// TTL×rate) tokens into the run from its edge, and may hold as
			// many unused at its end.
			slack := math.Min(float64(instances*tt.lease), float64(limit)/100)
			upper := float64(burst) + elapsed.Seconds()*limit + 1 + slack
			lower := float64(burst) + (elapsed.Seconds()-0.05)*limit - 1 - slack - float64(instances*tt.lease)
			got := float64(admitted.Load())
			t.Logf("admitted %v in %v (bounds %.0f..%.0f), %d redis decisions", got, elapsed, lower, upper, redisDecisions.Load())
			if got > upper || got < lower {
				t.Errorf("admitted %v in %v, want %.0f..%.0f", got, elapsed, lower, upper)
			}
		})
	}
}

// TestZeroLimiter: a Limiter not made by New, zero or nil, refuses to decide
// with an error that says so, and panics nowhere.
func TestZeroLimiter(t *testing.T) {
	ctx := context.Background()
	for name, l := range map[string]*redislimit.Limiter{"zero": {}, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			if _, err := l.DecideKey(ctx, "k"); !errors.Is(err, redislimit.ErrNotNew) {
				t.Errorf("DecideKey = %v, want ErrNotNew", err)
			}
			if _, err := l.DecideKeyN(ctx, "k", 2); !errors.Is(err, redislimit.ErrNotNew) {
				t.Errorf("DecideKeyN = %v, want ErrNotNew", err)
			}
			if _, err := l.AcquireKey(ctx, "k"); !errors.Is(err, redislimit.ErrNotNew) {
				t.Errorf("AcquireKey = %v, want ErrNotNew", err)
			}
			if _, err := l.Acquire(ctx); !errors.Is(err, redislimit.ErrNotNew) {
				t.Errorf("Acquire = %v, want ErrNotNew", err)
			}
			if _, err := levee.Do(ctx, levee.New(l), func(context.Context) (int, error) { return 1, nil }); !errors.Is(err, redislimit.ErrNotNew) {
				t.Errorf("Do through it = %v, want ErrNotNew", err)
			}
			if l.UsingFallback() || l.Fallbacks() != 0 || l.Stage() != levee.StageLimit {
				t.Errorf("UsingFallback, Fallbacks, Stage = %v, %v, %v; want false, 0, StageLimit",
					l.UsingFallback(), l.Fallbacks(), l.Stage())
			}
			l.OnEvent(func(levee.Event) {})()
			if p, n, s := l.PolicyState(); p != "redislimit" || n != "" || s != "none" {
				t.Errorf("PolicyState() = %q, %q, %q; want redislimit, \"\", none", p, n, s)
			}
		})
	}
	if _, err := redislimit.New(redislimit.Config{}); err == nil {
		t.Error("New(Config{}) = nil error, want the missing Client named")
	}
}
