package ratelimit_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/ratelimit"
)

func mustWindow(t testing.TB, cfg ratelimit.WindowConfig) *ratelimit.SlidingWindow {
	t.Helper()
	w, err := ratelimit.NewSlidingWindow(cfg)
	if err != nil {
		t.Fatalf("NewSlidingWindow(%+v) = %v", cfg, err)
	}
	return w
}

// TestSlidingWindowFormula: limit 10 per 1s window.
func TestSlidingWindowFormula(t *testing.T) {
	w := mustWindow(t, ratelimit.WindowConfig{Rate: ratelimit.PerSecond(10)})
	s := time.Second
	// Fill the first window with 8 at 0.5s. Reset: the estimate is zero
	// at the end of the next window.
	if d := w.DecideNAt(500*ms, 8); !d.Allowed || d.Remaining != 2 || d.Reset != 1500*time.Millisecond {
		t.Fatalf("DecideNAt(0.5s, 8) = %+v, want allowed, Remaining 2, Reset 1.5s", d)
	}
	tests := []struct {
		name string
		now  int64
		n    int
		want levee.Decision
	}{
		// cur+n = 11 > 10: only in the next window, where prev = 8 and
		// 8(W−e)/W ≤ 7 once e ≥ W/8: 400ms + 125ms.
		{"3 more do not fit", 600 * ms, 3, levee.Decision{Limit: 10, Rate: 10, Remaining: 2, RetryAfter: 525 * time.Millisecond, Reset: 1400 * time.Millisecond, Window: s}},
		{"2 fit", 600 * ms, 2, levee.Decision{Allowed: true, Limit: 10, Rate: 10, Remaining: 0, Reset: 1400 * time.Millisecond, Window: s}},
		// Next window at 1.25s: estimate = 10 × 0.75 = 7.5, rounded up to
		// 8; 3 more do not fit until 10(W−e)/W ≤ 7, at e = 300ms.
		{"next window, weighted", 1250 * ms, 3, levee.Decision{Limit: 10, Rate: 10, Remaining: 2, RetryAfter: 50 * time.Millisecond, Reset: 750 * time.Millisecond, Window: s}},
		{"one fits", 1250 * ms, 1, levee.Decision{Allowed: true, Limit: 10, Rate: 10, Remaining: 1, Reset: 1750 * time.Millisecond, Window: s}},
		// 1.3s: 10 × 0.7 = 7 exactly, + 1 + 1.
		{"one more as prev fades", 1300 * ms, 1, levee.Decision{Allowed: true, Limit: 10, Rate: 10, Remaining: 1, Reset: 1700 * time.Millisecond, Window: s}},
		{"above limit", 1300 * ms, 11, levee.Decision{Limit: 10, Rate: 10, Remaining: 1, RetryAfter: levee.Never, Reset: 1700 * time.Millisecond, Window: s}},
		{"last one, a nanosecond later", 1300*ms + 1, 1, levee.Decision{Allowed: true, Limit: 10, Rate: 10, Remaining: 0, Reset: 1700*time.Millisecond - 1, Window: s}},
		{"long idle", 10 * s.Nanoseconds(), 10, levee.Decision{Allowed: true, Limit: 10, Rate: 10, Remaining: 0, Reset: 2 * time.Second, Window: s}},
		{"peek", 10 * s.Nanoseconds(), 0, levee.Decision{Allowed: true, Limit: 10, Rate: 10, Remaining: 0, Reset: 2 * time.Second, Window: s}},
	}
	for _, tt := range tests {
		if got := w.DecideNAt(tt.now, tt.n); got != tt.want {
			t.Errorf("%s: DecideNAt(%v, %d) = %+v, want %+v", tt.name, time.Duration(tt.now), tt.n, got, tt.want)
		}
	}
}

// windowModel is a plain sliding-window counter: a map from window number
// to count, the reference for the packed lock-free one.
type windowModel struct {
	limit, w int64
	counts   map[int64]int64
}

func (m *windowModel) est(now int64) (prev, cur, e int64) {
	q := now / m.w
	e = now - q*m.w
	return m.counts[q-1], m.counts[q], e
}

func (m *windowModel) estimate(now int64) int64 {
	prev, cur, e := m.est(now)
	return (prev*(m.w-e)+m.w-1)/m.w + cur
}

func (m *windowModel) decide(now int64, n int) levee.Decision {
	d := levee.Decision{Limit: int(m.limit), Rate: int(m.limit), Window: time.Duration(m.w)}
	est := m.estimate(now)
	switch {
	case int64(n) > m.limit:
		d.RetryAfter = levee.Never
	case est+int64(n) <= m.limit:
		m.counts[now/m.w] += int64(n)
		est += int64(n)
		d.Allowed = true
	default:
		// Search the first instant (by bisection over a monotone
		// predicate) at which the request would fit.
		lo, hi := now, now+2*m.w
		for lo < hi {
			mid := lo + (hi-lo)/2
			if m.estimate(mid)+int64(n) <= m.limit {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		d.RetryAfter = time.Duration(lo - now)
	}
	d.Remaining = int(max(m.limit-est, 0))
	lo, hi := now, now+2*m.w
	for lo < hi {
		mid := lo + (hi-lo)/2
		if m.estimate(mid) == 0 {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	d.Reset = time.Duration(lo - now)
	return d
}

func TestSlidingWindowMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 200 {
		limit := 1 + rng.IntN(50)
		win := time.Duration(1+rng.IntN(1000)) * time.Millisecond
		w := mustWindow(t, ratelimit.WindowConfig{Rate: ratelimit.Rate{Events: limit, Per: win}})
		m := &windowModel{limit: int64(limit), w: int64(win), counts: map[int64]int64{}}
		now := int64(0)
		for i := range 300 {
			now += rng.Int64N(int64(win) / int64(limit) * 2)
			n := 1 + rng.IntN(limit/3+2)
			got, want := w.DecideNAt(now, n), m.decide(now, n)
			if got != want {
				t.Fatalf("round %d step %d: limit %d per %v: DecideNAt(%d, %d) = %+v, want %+v", round, i, limit, win, now, n, got, want)
			}
		}
	}
}

func TestSlidingWindowGate(t *testing.T) {
	clk := clocktest.New(time.Time{})
	w := mustWindow(t, ratelimit.WindowConfig{Rate: ratelimit.PerSecond(1), Clock: clk})
	ctx := context.Background()
	if _, err := w.Acquire(ctx); err != nil {
		t.Fatalf("Acquire = %v, want nil", err)
	}
	_, err := w.Acquire(ctx)
	if !errors.Is(err, levee.ErrLimited) {
		t.Fatalf("Acquire = %v, want ErrLimited", err)
	}
	// At 0 with 1 in the window: fits when, in the next window, the
	// previous window's weight has fallen to 0: at 2s.
	if d, ok := levee.RetryAfter(err); !ok || d != 2*time.Second {
		t.Errorf("RetryAfter(err) = %v, %v, want 2s, true", d, ok)
	}
	if a := testing.AllocsPerRun(100, func() { w.Acquire(ctx) }); a != 0 {
		t.Errorf("Acquire rejected: AllocsPerRun = %v, want 0", a)
	}
}

func TestSlidingWindowSetRate(t *testing.T) {
	clk := clocktest.New(time.Time{})
	w := mustWindow(t, ratelimit.WindowConfig{Rate: ratelimit.PerSecond(10), Clock: clk})
	w.AllowN(6)
	if err := w.SetRate(ratelimit.PerSecond(5)); err != nil {
		t.Fatal(err)
	}
	if w.Allow() {
		t.Errorf("Allow() after lowering the limit below the count = true, want false")
	}
	if err := w.SetRate(ratelimit.Rate{Events: 20, Per: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if d := w.DecideN(0); d.Remaining != 14 {
		t.Errorf("DecideN(0) after a new window = %+v, want Remaining 14 (the 6 kept)", d)
	}
	if err := w.SetRate(ratelimit.Rate{Events: ratelimit.MaxWindowLimit + 1}); err == nil {
		t.Errorf("SetRate(above MaxWindowLimit) = nil, want an error")
	}
}

func FuzzSlidingWindow(f *testing.F) {
	f.Add(10, int64(time.Second), []byte{0, 8, 10, 3, 1, 2, 65, 3})
	f.Add(1, int64(time.Millisecond), []byte{255, 1, 255, 1})
	f.Fuzz(func(t *testing.T, limit int, per int64, steps []byte) {
		if limit > 1000 || per > int64(time.Hour) {
			return
		}
		w, err := ratelimit.NewSlidingWindow(ratelimit.WindowConfig{Rate: ratelimit.Rate{Events: limit, Per: time.Duration(per)}})
		if err != nil || limit == 0 {
			return
		}
		win := int64(w.Rate().Per)
		if win == 0 {
			win = int64(time.Second)
		}
		m := &windowModel{limit: int64(limit), w: win, counts: map[int64]int64{}}
		now := int64(0)
		for i := 0; i+1 < len(steps); i += 2 {
			now += int64(steps[i]) * win / 64
			n := int(steps[i+1])%(limit+2) + 1
			got, want := w.DecideNAt(now, n), m.decide(now, n)
			if got != want {
				t.Fatalf("DecideNAt(%d, %d) = %+v, want %+v", now, n, got, want)
			}
		}
	})
}
