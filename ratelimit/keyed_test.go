package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/ratelimit"
)

func mustKeyed(t testing.TB, cfg ratelimit.KeyedConfig) *ratelimit.Keyed {
	t.Helper()
	k, err := ratelimit.NewKeyed(cfg)
	if err != nil {
		t.Fatalf("NewKeyed(%+v) = %v", cfg, err)
	}
	return k
}

// TestKeyedMatchesGCRA: every key of a keyed limiter behaves exactly like
// its own GCRA, on random sequences over a few keys.
func TestKeyedMatchesGCRA(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cfg := ratelimit.Config{Rate: ratelimit.PerSecond(10), Burst: 4}
	k := mustKeyed(t, ratelimit.KeyedConfig{Rate: cfg.Rate, Burst: cfg.Burst, Shards: 4})
	ref := map[string]*ratelimit.GCRA{}
	now := int64(0)
	for i := range 5000 {
		key := "k" + strconv.Itoa(rng.IntN(20))
		if ref[key] == nil {
			ref[key] = mustGCRA(t, cfg)
		}
		now += rng.Int64N(20 * ms)
		n := rng.IntN(6)
		got, want := k.DecideKeyNAt(key, now, n), ref[key].DecideNAt(now, n)
		if got != want {
			t.Fatalf("step %d: DecideKeyNAt(%q, %d, %d) = %+v, want %+v", i, key, now, n, got, want)
		}
	}
}

// TestKeyedEvictionIsLossless: with sweeps and evictions of idle keys
// (full buckets) interleaved at random, and few shards so that the index
// moves slots around, every key still behaves exactly like its own GCRA.
func TestKeyedEvictionIsLossless(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	cfg := ratelimit.Config{Rate: ratelimit.PerSecond(100), Burst: 3}
	k := mustKeyed(t, ratelimit.KeyedConfig{Rate: cfg.Rate, Burst: cfg.Burst, Shards: 2, IdleTimeout: time.Nanosecond})
	ref := map[string]*ratelimit.GCRA{}
	now := int64(0)
	for i := range 20000 {
		key := "k" + strconv.Itoa(rng.IntN(500))
		if ref[key] == nil {
			ref[key] = mustGCRA(t, cfg)
		}
		now += rng.Int64N(ms / 4)
		got, want := k.DecideKeyAt(key, now), ref[key].DecideAt(now)
		if got != want {
			t.Fatalf("step %d: DecideKeyAt(%q, %d) = %+v, want %+v", i, key, now, got, want)
		}
		if rng.IntN(1000) == 0 {
			k.SweepAt(now)
		}
	}
	if k.Len() >= 500 {
		t.Errorf("Len() = %d, want idle keys dropped (< 500)", k.Len())
	}
}

func TestKeyedConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		cfg   ratelimit.KeyedConfig
		field string
	}{
		{"negative max keys", ratelimit.KeyedConfig{MaxKeys: -1}, "MaxKeys"},
		{"negative idle", ratelimit.KeyedConfig{IdleTimeout: -1}, "IdleTimeout"},
		{"too many shards", ratelimit.KeyedConfig{Shards: 1 << 20}, "Shards"},
		{"bad rate", ratelimit.KeyedConfig{Rate: ratelimit.Rate{Events: -1}}, "Rate.Events"},
		{"bad override", ratelimit.KeyedConfig{Overrides: map[string]ratelimit.Override{"vip": {Burst: -2, Rate: ratelimit.PerSecond(1)}}}, `Overrides["vip"]`},
	}
	for _, tt := range tests {
		if _, err := ratelimit.NewKeyed(tt.cfg); err == nil || !contains(err.Error(), tt.field) {
			t.Errorf("%s: NewKeyed = %v, want an error naming %s", tt.name, err, tt.field)
		}
	}
}

func TestKeyedOverrides(t *testing.T) {
	k := mustKeyed(t, ratelimit.KeyedConfig{
		Rate: ratelimit.PerSecond(1), Burst: 1,
		Overrides: map[string]ratelimit.Override{"vip": {Rate: ratelimit.PerSecond(100), Burst: 5}},
	})
	count := func(key string) int {
		n := 0
		for range 10 {
			if k.DecideKeyAt(key, 0).Allowed {
				n++
			}
		}
		return n
	}
	if got := count("vip"); got != 5 {
		t.Errorf("admitted for vip = %d, want 5", got)
	}
	if got := count("anon"); got != 1 {
		t.Errorf("admitted for anon = %d, want 1", got)
	}
	if err := k.SetOverride("anon", ratelimit.Override{}); err != nil {
		t.Fatal(err)
	}
	if got := count("anon"); got != 10 {
		t.Errorf("admitted for anon with an unlimited override = %d, want 10", got)
	}
	k.RemoveOverride("vip")
	if got := count("vip"); got != 1 {
		t.Errorf("admitted for vip after RemoveOverride = %d, want 1", got)
	}
	if err := k.SetOverride("x", ratelimit.Override{Burst: -1, Rate: ratelimit.PerSecond(1)}); err == nil {
		t.Errorf("SetOverride with a negative burst = nil, want an error")
	}
}

func TestKeyedBoundedAndIdle(t *testing.T) {
	k := mustKeyed(t, ratelimit.KeyedConfig{Rate: ratelimit.PerSecond(1), Burst: 2, MaxKeys: 64, Shards: 4, IdleTimeout: time.Second})
	for i := range 1000 {
		k.DecideKeyAt("k"+strconv.Itoa(i), 0)
	}
	if n := k.Len(); n > 64 {
		t.Errorf("Len() after 1000 keys with MaxKeys 64 = %d, want <= 64", n)
	}
	// Used keys (TAT = 1s) are idle at 1s + IdleTimeout = 2s.
	if n := k.SweepAt(int64(time.Second)); n != 0 {
		t.Errorf("SweepAt(1s) = %d dropped, want 0 (not idle long enough)", n)
	}
	if n := k.SweepAt(int64(2 * time.Second)); n == 0 || k.Len() != 0 {
		t.Errorf("SweepAt(2s) = %d dropped, Len() = %d, want all dropped", n, k.Len())
	}
	// A hot key keeps its state while others come and go: it stays limited.
	k.DecideKeyAt("hot", 0)
	k.DecideKeyAt("hot", 0)
	for i := range 200 {
		k.DecideKeyAt("other"+strconv.Itoa(i), 0)
		if d := k.DecideKeyAt("hot", 0); d.Allowed {
			t.Fatalf("hot key admitted beyond its burst after %d other keys", i)
		}
	}
}

func TestKeyedSetRate(t *testing.T) {
	k := mustKeyed(t, ratelimit.KeyedConfig{Rate: ratelimit.PerSecond(10), Burst: 10, Clock: clocktest.New(time.Time{})})
	for range 10 {
		k.AllowKey("a")
	}
	if err := k.SetBurst(100); err != nil {
		t.Fatal(err)
	}
	if d, _ := k.DecideKeyN(context.Background(), "a", 0); d.Remaining != 0 || d.Limit != 100 {
		t.Errorf("DecideKeyN(a, 0) after SetBurst(100) = %+v, want Remaining 0, Limit 100", d)
	}
	if d, _ := k.DecideKeyN(context.Background(), "fresh", 0); d.Remaining != 100 {
		t.Errorf("DecideKeyN(fresh, 0) = %+v, want Remaining 100", d)
	}
	if err := k.SetRate(ratelimit.PerSecond(20)); err != nil {
		t.Fatal(err)
	}
	if k.Rate() != ratelimit.PerSecond(20) || k.Burst() != 100 {
		t.Errorf("Rate(), Burst() = %v, %d, want 20/1s, 100", k.Rate(), k.Burst())
	}
	if err := k.SetBurst(-1); err == nil {
		t.Errorf("SetBurst(-1) = nil, want an error")
	}
}

func TestKeyedGate(t *testing.T) {
	clk := clocktest.New(time.Time{})
	k := mustKeyed(t, ratelimit.KeyedConfig{Rate: ratelimit.PerSecond(1), Burst: 1, Clock: clk})
	a := ratelimit.WithKey(context.Background(), "a")
	b := ratelimit.WithKey(context.Background(), "b")
	if _, err := k.Acquire(a); err != nil {
		t.Fatalf("Acquire(a) = %v", err)
	}
	if _, err := k.Acquire(b); err != nil {
		t.Fatalf("Acquire(b) = %v, want nil (its own bucket)", err)
	}
	_, err := k.Acquire(a)
	if !errors.Is(err, levee.ErrLimited) {
		t.Fatalf("second Acquire(a) = %v, want ErrLimited", err)
	}
	if d, ok := levee.RetryAfter(err); !ok || d != time.Second {
		t.Errorf("RetryAfter = %v, %v, want 1s", d, ok)
	}
	if ratelimit.KeyFromContext(context.Background()) != "" {
		t.Errorf("KeyFromContext(empty) != \"\"")
	}
}

func TestKeyedAllocs(t *testing.T) {
	k := mustKeyed(t, ratelimit.KeyedConfig{Rate: ratelimit.PerSecond(1000), Burst: 1})
	k.DecideKeyAt("known", 0)
	now := int64(0)
	if a := testing.AllocsPerRun(100, func() { now += ms; k.DecideKeyAt("known", now) }); a != 0 {
		t.Errorf("DecideKeyAt allowed: AllocsPerRun = %v, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() { k.DecideKeyAt("known", now) }); a != 0 {
		t.Errorf("DecideKeyAt rejected: AllocsPerRun = %v, want 0", a)
	}
}

// TestKeyedAcquireRejection checks the retry-after a keyed rejection
// carries: the key's wait rounded up to the millisecond below a second and
// to the tenth of a second below a minute, exact beyond, and never
// shorter than the true wait.
func TestKeyedAcquireRejection(t *testing.T) {
	tests := []struct {
		rate ratelimit.Rate
		want time.Duration
	}{
		{ratelimit.Every(250 * time.Millisecond), 250 * time.Millisecond},
		{ratelimit.PerSecond(3), 334 * time.Millisecond},            // 333.33…ms
		{ratelimit.Every(999*time.Millisecond + 1), time.Second},    // just under a second
		{ratelimit.Every(time.Second + 1), 1100 * time.Millisecond}, // just over
		{ratelimit.Every(2050 * time.Millisecond), 2100 * time.Millisecond},
		{ratelimit.Every(time.Minute), time.Minute},
		{ratelimit.Every(time.Minute + time.Millisecond), time.Minute + time.Millisecond}, // exact
	}
	for _, tt := range tests {
		t.Run(tt.rate.String(), func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			k := mustKeyed(t, ratelimit.KeyedConfig{Rate: tt.rate, Burst: 1, Clock: clk})
			ctx := ratelimit.WithKey(context.Background(), "k")
			if _, err := k.Acquire(ctx); err != nil {
				t.Fatalf("first Acquire = %v", err)
			}
			_, err := k.Acquire(ctx)
			if !errors.Is(err, levee.ErrLimited) || !errors.Is(err, levee.ErrRejected) {
				t.Fatalf("second Acquire = %v, want ErrLimited", err)
			}
			got, ok := levee.RetryAfter(err)
			if !ok || got != tt.want {
				t.Errorf("RetryAfter = %v, %v; want %v", got, ok, tt.want)
			}
			if exact, _ := k.DecideKey(ctx, "k"); got < exact.RetryAfter {
				t.Errorf("RetryAfter %v is shorter than the key's wait %v", got, exact.RetryAfter)
			}
		})
	}
}

func TestKeyedAcquireAllocs(t *testing.T) {
	clk := clocktest.New(time.Time{})
	k := mustKeyed(t, ratelimit.KeyedConfig{Rate: ratelimit.PerSecond(3), Burst: 1, Clock: clk})
	ctx := ratelimit.WithKey(context.Background(), "k")
	k.Acquire(ctx)
	k.Acquire(ctx) // makes the shared rejection for this wait
	if a := testing.AllocsPerRun(100, func() {
		if _, err := k.Acquire(ctx); err == nil {
			t.Fatal("Acquire admitted, want rejected")
		}
	}); a != 0 {
		t.Errorf("rejected Acquire: AllocsPerRun = %v, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		clk.Advance(time.Second)
		if _, err := k.Acquire(ctx); err != nil {
			t.Fatalf("Acquire after a second = %v", err)
		}
	}); a != 0 {
		t.Errorf("admitted Acquire: AllocsPerRun = %v, want 0", a)
	}
}

// TestKeyedRace hammers many keys from many goroutines; run with -race.
// Each key must never admit more than burst + elapsed × rate.
func TestKeyedRace(t *testing.T) {
	clk := clocktest.New(time.Time{})
	k := mustKeyed(t, ratelimit.KeyedConfig{Rate: ratelimit.PerSecond(100), Burst: 10, MaxKeys: 1 << 16, Clock: clk})
	const keys, workers, calls = 200, 8, 2000
	var admitted [keys]int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			local := make([]int64, keys)
			for range calls {
				i := rng.IntN(keys)
				if k.AllowKey("key-" + strconv.Itoa(i)) {
					local[i]++
				}
				if w == 0 && rng.IntN(100) == 0 {
					clk.Advance(time.Millisecond)
				}
				if w == 1 && rng.IntN(500) == 0 {
					k.Sweep()
				}
			}
			mu.Lock()
			for i, n := range local {
				admitted[i] += n
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := clk.Nanotime()
	limit := 10 + elapsed/int64(10*time.Millisecond)
	for i, n := range admitted {
		if n > limit {
			t.Errorf("key %d admitted %d, want <= %d", i, n, limit)
		}
	}
}

// TestKeyedMemory measures the heap held per idle key with 1M keys and
// fails when it exceeds 64 bytes plus the key's own allocation.
func TestKeyedMemory(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocates a million keys (skipped in -short and -race runs)")
	}
	const n = 1 << 20
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%07d", i) // 11 bytes: a 16-byte allocation
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	k := mustKeyed(t, ratelimit.KeyedConfig{Rate: ratelimit.PerSecond(10), MaxKeys: n})
	for _, key := range keys {
		k.DecideKeyAt(key, 0)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if k.Len() != n {
		t.Fatalf("Len() = %d, want %d", k.Len(), n)
	}
	// keys stays alive to the end: were it collected by the second GC, its
	// 32 bytes a key (header and bytes) would be subtracted from the figure.
	runtime.KeepAlive(keys)
	perKey := float64(after.HeapAlloc-before.HeapAlloc) / n
	overhead := perKey - 16
	t.Logf("%d keys: %.1f bytes/key of heap, %.1f besides the key's 16-byte copy", n, perKey, overhead)
	if overhead > 64 {
		t.Errorf("bytes per key besides the key = %.1f, want <= 64", overhead)
	}
	runtime.KeepAlive(k)
}

// FuzzKeyed drives the keyed limiter's index (inserts, evictions under a
// tight MaxKeys, sweeps) with arbitrary operations; keys that were never
// evicted while holding state must match their own GCRA.
func FuzzKeyed(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 200, 6, 7, 255, 1})
	f.Add([]byte{0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		cfg := ratelimit.Config{Rate: ratelimit.PerSecond(1000), Burst: 2}
		k := mustKeyed(t, ratelimit.KeyedConfig{Rate: cfg.Rate, Burst: cfg.Burst, Shards: 1, IdleTimeout: time.Nanosecond})
		ref := map[string]*ratelimit.GCRA{}
		now := int64(0)
		for _, op := range ops {
			switch {
			case op >= 250:
				k.SweepAt(now)
			case op >= 200:
				now += int64(op-200) * int64(time.Millisecond) / 10
			default:
				key := "k" + strconv.Itoa(int(op%64))
				if ref[key] == nil {
					ref[key] = mustGCRA(t, cfg)
				}
				got, want := k.DecideKeyAt(key, now), ref[key].DecideAt(now)
				if got != want {
					t.Fatalf("DecideKeyAt(%q, %d) = %+v, want %+v", key, now, got, want)
				}
			}
		}
		if k.Len() > 64 {
			t.Fatalf("Len() = %d, want <= 64 keys", k.Len())
		}
	})
}
