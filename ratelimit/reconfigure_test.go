package ratelimit_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/ratelimit"
)

// bucket is what TokenBucket and GCRA share for these tests.
type bucket interface {
	AllowNAt(now int64, n int) bool
	DecideNAt(now int64, n int) levee.Decision
	Reconfigure(cfg ratelimit.Config) error
	Rate() ratelimit.Rate
	Burst() int
}

func buckets(t *testing.T, cfg ratelimit.Config) map[string]bucket {
	t.Helper()
	g, err := ratelimit.NewGCRA(cfg)
	if err != nil {
		t.Fatalf("NewGCRA(%+v) = %v", cfg, err)
	}
	b, err := ratelimit.NewTokenBucket(cfg)
	if err != nil {
		t.Fatalf("NewTokenBucket(%+v) = %v", cfg, err)
	}
	return map[string]bucket{"GCRA": g, "TokenBucket": b}
}

func TestReconfigureKeepsTokens(t *testing.T) {
	clk := clocktest.New(time.Time{})
	for name, l := range buckets(t, ratelimit.Config{Rate: ratelimit.PerSecond(10), Clock: clk}) {
		t.Run(name, func(t *testing.T) {
			now := clk.Nanotime()
			if !l.AllowNAt(now, 6) {
				t.Fatalf("AllowNAt(6) on a full bucket of 10 = false")
			}
			for _, tt := range []struct {
				cfg       ratelimit.Config
				remaining int
			}{
				{ratelimit.Config{Rate: ratelimit.PerSecond(10), Burst: 20}, 4},              // kept
				{ratelimit.Config{Rate: ratelimit.PerSecond(20), Burst: 20}, 4},              // kept at another rate
				{ratelimit.Config{Rate: ratelimit.PerSecond(20), Burst: 2}, 2},               // capped at the new burst
				{ratelimit.Config{Rate: ratelimit.PerSecond(20), Burst: 10, Clock: clk}, 10}, // a full bucket stays full (same clock is fine)
			} {
				if err := l.Reconfigure(tt.cfg); err != nil {
					t.Fatalf("Reconfigure(%+v) = %v", tt.cfg, err)
				}
				if d := l.DecideNAt(now, 0); d.Remaining != tt.remaining || d.Limit != l.Burst() {
					t.Errorf("after Reconfigure(%v burst %d): Remaining %d, Limit %d; want %d, %d",
						tt.cfg.Rate, tt.cfg.Burst, d.Remaining, d.Limit, tt.remaining, l.Burst())
				}
			}
		})
	}
}

func TestReconfigureRefusesBadConfig(t *testing.T) {
	clk := clocktest.New(time.Time{})
	good := ratelimit.Config{Name: "api", Rate: ratelimit.PerSecond(10), Burst: 5, Clock: clk}
	for name, l := range buckets(t, good) {
		t.Run(name, func(t *testing.T) {
			l.AllowNAt(clk.Nanotime(), 2)
			for _, tt := range []struct {
				cfg   ratelimit.Config
				field string
			}{
				{ratelimit.Config{Rate: ratelimit.PerSecond(10), Burst: -1}, "Burst"},
				{ratelimit.Config{Rate: ratelimit.Rate{Events: -3}}, "Rate"},
				{ratelimit.Config{Rate: ratelimit.PerSecond(10), WarmUp: time.Second, ColdFactor: 0.5}, "ColdFactor"},
				{ratelimit.Config{Rate: ratelimit.PerSecond(10), Name: "other"}, "Name"},
				{ratelimit.Config{Rate: ratelimit.PerSecond(10), Clock: clocktest.New(time.Time{})}, "Clock"},
				{ratelimit.Config{Rate: ratelimit.PerSecond(10), CoarseClock: true}, "CoarseClock"},
			} {
				err := l.Reconfigure(tt.cfg)
				if err == nil || !strings.Contains(err.Error(), tt.field) {
					t.Errorf("Reconfigure(%+v) = %v, want an error naming %s", tt.cfg, err, tt.field)
				}
			}
			if r, b, rem := l.Rate(), l.Burst(), l.DecideNAt(clk.Nanotime(), 0).Remaining; r != good.Rate || b != 5 || rem != 3 {
				t.Errorf("after refused Reconfigures: rate %v burst %d remaining %d, want %v 5 3 (untouched)", r, b, rem, good.Rate)
			}
		})
	}
}

func TestSlidingWindowReconfigure(t *testing.T) {
	clk := clocktest.New(time.Time{})
	w, err := ratelimit.NewSlidingWindow(ratelimit.WindowConfig{Name: "w", Rate: ratelimit.PerMinute(10), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	now := clk.Nanotime()
	w.AllowNAt(now, 6)
	if err := w.Reconfigure(ratelimit.WindowConfig{Rate: ratelimit.Rate{Events: -1}}); err == nil || !strings.Contains(err.Error(), "Rate") {
		t.Errorf("Reconfigure(negative rate) = %v, want an error naming Rate", err)
	}
	if err := w.Reconfigure(ratelimit.WindowConfig{Name: "x", Rate: ratelimit.PerMinute(10)}); err == nil || !strings.Contains(err.Error(), "Name") {
		t.Errorf("Reconfigure(Name x) = %v, want an error naming Name", err)
	}
	if err := w.Reconfigure(ratelimit.WindowConfig{Rate: ratelimit.PerMinute(8)}); err != nil {
		t.Fatalf("Reconfigure = %v", err)
	}
	if d := w.DecideNAt(now, 0); d.Remaining != 2 || d.Limit != 8 {
		t.Errorf("after Reconfigure to 8/min with 6 counted: Remaining %d Limit %d, want 2 8", d.Remaining, d.Limit)
	}
}

func TestKeyedReconfigure(t *testing.T) {
	clk := clocktest.New(time.Time{})
	k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{
		Rate: ratelimit.PerSecond(10), Clock: clk, Shards: 4,
		Overrides: map[string]ratelimit.Override{"vip": {Rate: ratelimit.PerSecond(100)}, "gone": {Rate: ratelimit.PerSecond(100)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	now := clk.Nanotime()
	k.DecideKeyNAt("a", now, 6)
	k.DecideKeyNAt("vip", now, 50)
	k.DecideKeyNAt("gone", now, 50)

	for _, tt := range []struct {
		cfg   ratelimit.KeyedConfig
		field string
	}{
		{ratelimit.KeyedConfig{Rate: ratelimit.PerSecond(10), Burst: -2}, "Burst"},
		{ratelimit.KeyedConfig{Rate: ratelimit.PerSecond(10), Overrides: map[string]ratelimit.Override{"vip": {Burst: -1, Rate: ratelimit.PerSecond(1)}}}, `Overrides["vip"]`},
		{ratelimit.KeyedConfig{Rate: ratelimit.PerSecond(10), Shards: 64}, "Shards"},
		{ratelimit.KeyedConfig{Rate: ratelimit.PerSecond(10), MaxKeys: -1}, "MaxKeys"},
		{ratelimit.KeyedConfig{Rate: ratelimit.PerSecond(10), Key: func(context.Context) string { return "" }}, "Key"},
	} {
		if err := k.Reconfigure(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("Reconfigure(%+v) = %v, want an error naming %s", tt.cfg, err, tt.field)
		}
	}
	if d := k.DecideKeyNAt("a", now, 0); d.Remaining != 4 || d.Limit != 10 {
		t.Fatalf("after refused Reconfigures: key a Remaining %d Limit %d, want 4 10 (untouched)", d.Remaining, d.Limit)
	}

	err = k.Reconfigure(ratelimit.KeyedConfig{
		Rate: ratelimit.PerSecond(20), Burst: 20, Shards: 4,
		Overrides: map[string]ratelimit.Override{"vip": {Rate: ratelimit.PerSecond(200)}, "new": {Rate: ratelimit.PerSecond(5)}},
	})
	if err != nil {
		t.Fatalf("Reconfigure = %v", err)
	}
	for _, tt := range []struct {
		key              string
		remaining, limit int
	}{
		{"a", 4, 20},     // default key keeps its tokens
		{"vip", 50, 200}, // override kept: keeps its tokens under the new limit
		{"new", 5, 5},    // new override starts full
		{"gone", 20, 20}, // override dropped: back to the default, a fresh key
	} {
		if d := k.DecideKeyNAt(tt.key, now, 0); d.Remaining != tt.remaining || d.Limit != tt.limit {
			t.Errorf("after Reconfigure: key %q Remaining %d Limit %d, want %d %d", tt.key, d.Remaining, d.Limit, tt.remaining, tt.limit)
		}
	}
}

// TestReconfigureDuringTraffic changes the rate while calls are decided
// (for the race detector). The clock stands still and every setting has
// the same burst, so the calls admitted are the bucket's tokens: however
// the changes interleave, never more than a few bursts' worth.
func TestReconfigureDuringTraffic(t *testing.T) {
	clk := clocktest.New(time.Time{})
	const burst, workers, calls = 100, 4, 500
	k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: ratelimit.PerSecond(burst), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	for name, l := range buckets(t, ratelimit.Config{Rate: ratelimit.PerSecond(burst), Clock: clk}) {
		t.Run(name, func(t *testing.T) {
			var admitted, keyAdmitted atomic.Int64
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for range calls {
						if l.AllowNAt(clk.Nanotime(), 1) {
							admitted.Add(1)
						}
						if k.DecideKeyNAt(name, clk.Nanotime(), 1).Allowed {
							keyAdmitted.Add(1)
						}
					}
				})
			}
			for i := range 100 {
				r := ratelimit.Rate{Events: burst, Per: time.Duration(1+i%2) * time.Second}
				if err := l.Reconfigure(ratelimit.Config{Rate: r, Burst: burst}); err != nil {
					t.Fatalf("Reconfigure = %v", err)
				}
				if err := k.Reconfigure(ratelimit.KeyedConfig{Rate: r, Burst: burst}); err != nil {
					t.Fatalf("Keyed.Reconfigure = %v", err)
				}
			}
			wg.Wait()
			if n := admitted.Load(); n < burst/2 || n > 3*burst {
				t.Errorf("%s admitted %d of %d calls on a stopped clock, want about the burst (%d), at most a few more", name, n, workers*calls, burst)
			}
			if n := keyAdmitted.Load(); n < burst/2 || n > 3*burst {
				t.Errorf("Keyed admitted %d of %d calls for one key on a stopped clock, want about the burst (%d), at most a few more", n, workers*calls, burst)
			}
		})
	}
}
