package ratelimit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/ratelimit"
)

// TestCoarseClockConfig: a coarse limiter whose burst spans less than one
// tick of the coarse clock could not reach its rate, and is refused with an
// error saying so, at construction and on SetBurst/SetRate; CoarseClock and
// Clock together are an error.
func TestCoarseClockConfig(t *testing.T) {
	tooShort := ratelimit.Config{Rate: ratelimit.PerSecond(10000), Burst: 5, CoarseClock: true} // 500µs
	if _, err := ratelimit.NewGCRA(tooShort); err == nil || !strings.Contains(err.Error(), "coarse") {
		t.Errorf("NewGCRA(burst spanning 500µs, coarse) = %v, want an error about the coarse clock", err)
	}
	if _, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: tooShort.Rate, Burst: 5, CoarseClock: true}); err == nil {
		t.Error("NewKeyed(burst spanning 500µs, coarse) = nil error")
	}
	both := ratelimit.Config{Rate: ratelimit.PerSecond(10), CoarseClock: true, Clock: clocktest.New(time.Time{})}
	if _, err := ratelimit.NewTokenBucket(both); err == nil {
		t.Error("NewTokenBucket(CoarseClock and Clock) = nil error")
	}
	if _, err := ratelimit.NewSlidingWindow(ratelimit.WindowConfig{Rate: ratelimit.PerSecond(10), CoarseClock: true, Clock: clock.Real}); err == nil {
		t.Error("NewSlidingWindow(CoarseClock and Clock) = nil error")
	}

	g, err := ratelimit.NewGCRA(ratelimit.Config{Rate: ratelimit.PerSecond(10000), Burst: 10, CoarseClock: true})
	if err != nil {
		t.Fatalf("NewGCRA(burst spanning 1ms, coarse) = %v", err)
	}
	if err := g.SetBurst(5); err == nil {
		t.Error("SetBurst(5) on a coarse 10000/s limiter = nil error, want the coarse-clock error")
	}
	if err := g.SetRate(ratelimit.PerSecond(20000)); err == nil {
		t.Error("SetRate(20000/s) with burst 10 on the coarse clock = nil error")
	}
	if g.Burst() != 10 || g.Rate() != ratelimit.PerSecond(10000) {
		t.Errorf("after refused changes: rate %v burst %d, want 10000/1s, 10", g.Rate(), g.Burst())
	}

	k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: ratelimit.PerSecond(10), CoarseClock: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.SetOverride("hot", ratelimit.Override{Rate: ratelimit.PerSecond(10000), Burst: 1}); err == nil {
		t.Error("SetOverride(burst spanning 100µs) on a coarse Keyed = nil error: the override must be coarse too")
	}
}

// TestCoarseClockReadings: the coarse reading is on the real clock's
// Nanotime scale, never ahead of it, and recent; a coarse limiter decides
// with it and does not allocate.
func TestCoarseClockReadings(t *testing.T) {
	g, err := ratelimit.NewGCRA(ratelimit.Config{Rate: ratelimit.Every(time.Hour), Burst: 1, CoarseClock: true})
	if err != nil {
		t.Fatal(err)
	}
	// Decide takes the token at the coarse reading c: TAT = c + 1h. A peek
	// at a real reading r then has Reset = c + 1h − r: the lag r − c is
	// 1h − Reset.
	if d := g.Decide(); !d.Allowed {
		t.Fatalf("first Decide() = %+v, want allowed", d)
	}
	now := clock.Real.Nanotime()
	lag := time.Hour - g.DecideNAt(now, 0).Reset
	if lag < 0 || lag > time.Second {
		t.Errorf("coarse reading %v behind the real clock, want within [0, 1s] (about 1ms)", lag)
	}
	if g.Allow() {
		t.Error("second Allow() within the hour = true")
	}
	if a := testing.AllocsPerRun(100, func() { g.Allow() }); a != 0 {
		t.Errorf("coarse Allow: AllocsPerRun = %v, want 0", a)
	}
}

// TestCoarseClockConfirmsRefusals: a coarse reading lags the exact one, so
// a token taken at an exact reading t0 looks, to a coarse call right after,
// as if it were not yet due; the refusal is confirmed with an exact reading,
// which admits the call (the exact limiter would). Either way the call must
// be admitted: a tick between the two calls only makes the coarse reading
// exact.
func TestCoarseClockConfirmsRefusals(t *testing.T) {
	cfg := ratelimit.Config{Rate: ratelimit.PerSecond(1000), Burst: 1, CoarseClock: true}
	for i := range 100 {
		g, err := ratelimit.NewGCRA(cfg)
		if err != nil {
			t.Fatal(err)
		}
		tb, err := ratelimit.NewTokenBucket(cfg)
		if err != nil {
			t.Fatal(err)
		}
		k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: cfg.Rate, Burst: 1, CoarseClock: true})
		if err != nil {
			t.Fatal(err)
		}
		// One token a millisecond, burst 1: taking it at t0 leaves the
		// next one due at t0 + 1ms, a moment the coarse reading has
		// not reached yet.
		t0 := clock.Real.Nanotime() - int64(time.Millisecond)
		if !g.AllowAt(t0) || !g.Allow() {
			t.Fatalf("round %d: GCRA: a call the exact clock admits was refused on the coarse clock", i)
		}
		if !tb.AllowAt(t0) || !tb.Allow() {
			t.Fatalf("round %d: TokenBucket: a call the exact clock admits was refused on the coarse clock", i)
		}
		if !k.DecideKeyAt("k", t0).Allowed || !k.AllowKey("k") {
			t.Fatalf("round %d: Keyed: a call the exact clock admits was refused on the coarse clock", i)
		}
	}
}
