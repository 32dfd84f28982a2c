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

const ms = int64(time.Millisecond)

func mustGCRA(t testing.TB, cfg ratelimit.Config) *ratelimit.GCRA {
	t.Helper()
	g, err := ratelimit.NewGCRA(cfg)
	if err != nil {
		t.Fatalf("NewGCRA(%+v) = %v", cfg, err)
	}
	return g
}

// TestGCRAFormula steps a GCRA of 10/s (T = 100ms), burst 3 (τ = 300ms)
// through fixed instants and checks each decision against the formula.
func TestGCRAFormula(t *testing.T) {
	g := mustGCRA(t, ratelimit.Config{Rate: ratelimit.PerSecond(10), Burst: 3})
	type step struct {
		name string
		now  int64
		n    int
		want levee.Decision
	}
	steps := []step{
		{"first of burst", 0, 1, levee.Decision{Allowed: true, Limit: 3, Remaining: 2, Reset: 100 * time.Millisecond, Rate: 10, Window: time.Second}},
		{"second", 0, 1, levee.Decision{Allowed: true, Limit: 3, Remaining: 1, Reset: 200 * time.Millisecond, Rate: 10, Window: time.Second}},
		{"third", 0, 1, levee.Decision{Allowed: true, Limit: 3, Remaining: 0, Reset: 300 * time.Millisecond, Rate: 10, Window: time.Second}},
		{"fourth rejected", 0, 1, levee.Decision{Limit: 3, Remaining: 0, RetryAfter: 100 * time.Millisecond, Reset: 300 * time.Millisecond, Rate: 10, Window: time.Second}},
		{"just before the token", 99 * ms, 1, levee.Decision{Limit: 3, Remaining: 0, RetryAfter: time.Millisecond, Reset: 201 * time.Millisecond, Rate: 10, Window: time.Second}},
		{"token accrued", 100 * ms, 1, levee.Decision{Allowed: true, Limit: 3, Remaining: 0, Reset: 300 * time.Millisecond, Rate: 10, Window: time.Second}},
		{"two at once need 200ms", 150 * ms, 2, levee.Decision{Limit: 3, Remaining: 0, RetryAfter: 150 * time.Millisecond, Reset: 250 * time.Millisecond, Rate: 10, Window: time.Second}},
		{"two after refill", 300 * ms, 2, levee.Decision{Allowed: true, Limit: 3, Remaining: 0, Reset: 300 * time.Millisecond, Rate: 10, Window: time.Second}},
		{"more than burst never", 2000 * ms, 4, levee.Decision{Limit: 3, Remaining: 3, RetryAfter: levee.Never, Rate: 10, Window: time.Second}},
		{"peek with n=0", 2000 * ms, 0, levee.Decision{Allowed: true, Limit: 3, Remaining: 3, Rate: 10, Window: time.Second}},
		{"idle long: full again", 2000 * ms, 3, levee.Decision{Allowed: true, Limit: 3, Remaining: 0, Reset: 300 * time.Millisecond, Rate: 10, Window: time.Second}},
	}
	for _, s := range steps {
		got := g.DecideNAt(s.now, s.n)
		if got != s.want {
			t.Errorf("%s: DecideNAt(%v, %d) = %+v, want %+v", s.name, time.Duration(s.now), s.n, got, s.want)
		}
	}
}

func TestGCRAUnlimited(t *testing.T) {
	g := mustGCRA(t, ratelimit.Config{})
	for i := range 1000 {
		if d := g.DecideAt(0); !d.Allowed || d.Limit != 0 {
			t.Fatalf("call %d: DecideAt(0) = %+v, want allowed with Limit 0", i, d)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		cfg   ratelimit.Config
		field string
	}{
		{"negative events", ratelimit.Config{Rate: ratelimit.Rate{Events: -1}}, "Rate.Events"},
		{"negative per", ratelimit.Config{Rate: ratelimit.Rate{Events: 1, Per: -time.Second}}, "Rate.Per"},
		{"too fast", ratelimit.Config{Rate: ratelimit.Rate{Events: 2, Per: time.Nanosecond}}, "Rate"},
		{"negative burst", ratelimit.Config{Rate: ratelimit.PerSecond(1), Burst: -1}, "Burst"},
		{"negative warm-up", ratelimit.Config{Rate: ratelimit.PerSecond(1), WarmUp: -1}, "WarmUp"},
		{"cold factor below 1", ratelimit.Config{Rate: ratelimit.PerSecond(1), WarmUp: time.Second, ColdFactor: 0.5}, "ColdFactor"},
		{"huge span", ratelimit.Config{Rate: ratelimit.Every(24 * time.Hour * 365 * 10), Burst: 10}, "Burst"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ratelimit.NewGCRA(tt.cfg)
			if err == nil || !contains(err.Error(), tt.field) {
				t.Fatalf("NewGCRA(%+v) = %v, want an error naming %s", tt.cfg, err, tt.field)
			}
			_, err = ratelimit.NewTokenBucket(tt.cfg)
			if err == nil {
				t.Fatalf("NewTokenBucket(%+v) = nil error, want one", tt.cfg)
			}
		})
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// bucketModel is the textbook token bucket, kept as available nanoseconds of
// tokens (tokens × T) and the time of the last update: the reference the
// lock-free single-timestamp limiter must agree with exactly.
type bucketModel struct {
	t, tau int64 // interval and capacity (ns)
	rate   int   // the configured rate: rate per window
	window time.Duration
	avail  int64
	last   int64
}

func (m *bucketModel) decide(now int64, n int) levee.Decision {
	if now > m.last {
		m.avail = min(m.tau, m.avail+(now-m.last))
		m.last = now
	}
	burst := int(m.tau / m.t)
	d := levee.Decision{Limit: burst, Rate: m.rate, Window: m.window}
	need := int64(n) * m.t
	if n > burst {
		d.RetryAfter = levee.Never
	} else if m.avail >= need {
		m.avail -= need
		d.Allowed = true
	} else {
		d.RetryAfter = time.Duration(need - m.avail)
	}
	d.Remaining = int(m.avail / m.t)
	d.Reset = time.Duration(m.tau - m.avail)
	return d
}

// TestGCRAMatchesModel runs random sequences (fixed seed) through the GCRA
// and the reference bucket and requires identical decisions.
func TestGCRAMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		events := 1 + rng.IntN(1000)
		per := time.Duration(1+rng.IntN(5000)) * time.Millisecond
		burst := 1 + rng.IntN(20)
		g := mustGCRA(t, ratelimit.Config{Rate: ratelimit.Rate{Events: events, Per: per}, Burst: burst})
		iv := int64(per) / int64(events)
		m := &bucketModel{t: iv, tau: int64(burst) * iv, avail: int64(burst) * iv, rate: events, window: per}
		now := int64(0)
		for i := range 300 {
			now += rng.Int64N(3 * iv)
			n := 1 + rng.IntN(burst+1)
			got, want := g.DecideNAt(now, n), m.decide(now, n)
			if got != want {
				t.Fatalf("round %d step %d: rate %d/%v burst %d: DecideNAt(%d, %d) = %+v, want %+v",
					round, i, events, per, burst, now, n, got, want)
			}
		}
	}
}

func TestGCRAGate(t *testing.T) {
	clk := clocktest.New(time.Time{})
	g := mustGCRA(t, ratelimit.Config{Rate: ratelimit.PerSecond(2), Burst: 1, Clock: clk})
	if g.Stage() != levee.StageLimit {
		t.Errorf("Stage() = %v, want %v", g.Stage(), levee.StageLimit)
	}
	ctx := context.Background()
	if _, err := g.Acquire(ctx); err != nil {
		t.Fatalf("first Acquire = %v, want nil", err)
	}
	_, err := g.Acquire(ctx)
	if !errors.Is(err, levee.ErrLimited) || !errors.Is(err, levee.ErrRejected) {
		t.Fatalf("second Acquire = %v, want ErrLimited and ErrRejected", err)
	}
	if d, ok := levee.RetryAfter(err); !ok || d != 500*time.Millisecond {
		t.Errorf("RetryAfter(err) = %v, %v, want 500ms, true", d, ok)
	}
	clk.Advance(200 * time.Millisecond)
	if d, _ := levee.RetryAfter(err); d != 300*time.Millisecond {
		t.Errorf("RetryAfter(err) after 200ms = %v, want 300ms (read live)", d)
	}
	clk.Advance(300 * time.Millisecond)
	if _, err := g.Acquire(ctx); err != nil {
		t.Errorf("Acquire after the wait = %v, want nil", err)
	}
	// Through a pipeline.
	p := levee.New(g)
	_, err = levee.Do(ctx, p, func(context.Context) (int, error) { return 1, nil })
	if !errors.Is(err, levee.ErrLimited) {
		t.Errorf("Do through an empty limiter = %v, want ErrLimited", err)
	}
}

func TestGCRAEvents(t *testing.T) {
	clk := clocktest.New(time.Time{})
	g := mustGCRA(t, ratelimit.Config{Name: "api", Rate: ratelimit.PerSecond(1), Burst: 1, Clock: clk})
	var got []levee.Event
	remove := g.OnEvent(func(e levee.Event) { got = append(got, e) })
	g.Allow()
	g.Allow()
	if err := g.SetRate(ratelimit.PerSecond(4)); err != nil {
		t.Fatal(err)
	}
	remove()
	g.Allow()
	if len(got) != 2 {
		t.Fatalf("events = %+v, want a rejection and a limit change", got)
	}
	if got[0].Kind != levee.EventRejected || got[0].Name != "api" || got[0].Wait != time.Second {
		t.Errorf("event 0 = %+v, want a rejection of api with Wait 1s", got[0])
	}
	if got[1].Kind != levee.EventLimitChange || got[1].Value != 4 || got[1].Threshold != 1 {
		t.Errorf("event 1 = %+v, want a limit change 1 -> 4", got[1])
	}
}

// TestSetRate checks that a rate change keeps the available tokens and
// does not hand out a burst.
func TestSetRate(t *testing.T) {
	clk := clocktest.New(time.Time{})
	g := mustGCRA(t, ratelimit.Config{Rate: ratelimit.PerSecond(10), Burst: 10, Clock: clk})
	for range 6 {
		g.Allow()
	}
	if r := g.Decide(); r.Remaining != 3 {
		t.Fatalf("Decide() after 7 = %+v, want Remaining 3", r)
	}
	// 3 left of 10. Double the rate and the burst: still 3 left... minus
	// nothing accrued since time stood still.
	if err := g.SetRate(ratelimit.PerSecond(20)); err != nil {
		t.Fatal(err)
	}
	if g.Burst() != 10 {
		t.Errorf("Burst() = %d, want 10 (set explicitly)", g.Burst())
	}
	if d := g.DecideN(0); d.Remaining != 3 || d.Limit != 10 {
		t.Errorf("DecideN(0) after SetRate = %+v, want Remaining 3, Limit 10", d)
	}
	// Raise the burst: no free tokens.
	if err := g.SetBurst(100); err != nil {
		t.Fatal(err)
	}
	if d := g.DecideN(0); d.Remaining != 3 || d.Limit != 100 {
		t.Errorf("DecideN(0) after SetBurst(100) = %+v, want Remaining 3, Limit 100", d)
	}
	// Tokens now accrue at 20/s: 50ms = 1 token.
	clk.Advance(50 * time.Millisecond)
	if d := g.DecideN(0); d.Remaining != 4 {
		t.Errorf("DecideN(0) 50ms later = %+v, want Remaining 4", d)
	}
	// Lower the burst below what is available: capped.
	if err := g.SetBurst(2); err != nil {
		t.Fatal(err)
	}
	if d := g.DecideN(0); d.Remaining != 2 {
		t.Errorf("DecideN(0) after SetBurst(2) = %+v, want Remaining 2", d)
	}
	if err := g.SetBurst(-1); err == nil {
		t.Errorf("SetBurst(-1) = nil, want an error")
	}
	if err := g.SetRate(ratelimit.Rate{Events: -3}); err == nil {
		t.Errorf("SetRate(-3 events) = nil, want an error")
	}
	// Going unlimited and back.
	if err := g.SetRate(ratelimit.Rate{}); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if !g.Allow() {
			t.Fatal("Allow() on an unlimited limiter = false")
		}
	}
	if err := g.SetRate(ratelimit.PerSecond(1)); err != nil {
		t.Fatal(err)
	}
	if d := g.DecideN(0); d.Limit != 2 || d.Remaining != 2 {
		t.Errorf("DecideN(0) after limiting again = %+v, want a full bucket of 2 (the burst set before)", d)
	}
}

// TestWarmUp checks the ramp: a cold limiter at 10/s with cold factor 3
// starts at one call per 300ms and reaches one per 100ms after the warm-up.
func TestWarmUp(t *testing.T) {
	g := mustGCRA(t, ratelimit.Config{Rate: ratelimit.PerSecond(10), Burst: 1, WarmUp: time.Second})
	tests := []struct {
		name string
		now  int64
		want bool
	}{
		{"cold first call", 0, true},
		{"cold: 100ms is too soon", 100 * ms, false},
		{"cold: 300ms after", 300 * ms, true},
		// at 300ms e = 0.3s: interval 300 - 200*0.3 = 240ms.
		{"warming: 200ms too soon", 500 * ms, false},
		{"warming: 240ms", 540 * ms, true},
		// warm after 1s: interval 100ms.
		{"warm", 1200 * ms, true},
		{"warm: 100ms later", 1300 * ms, true},
		{"warm: 50ms later", 1350 * ms, false},
		// Idle for a whole warm-up period with a full bucket: cold again.
		{"cold again", 3000 * ms, true},
		{"cold again: 100ms is too soon", 3100 * ms, false},
	}
	for _, tt := range tests {
		if got := g.AllowAt(tt.now); got != tt.want {
			t.Errorf("%s: AllowAt(%v) = %v, want %v", tt.name, time.Duration(tt.now), got, tt.want)
		}
	}
}

func TestAllowAllocs(t *testing.T) {
	clk := clocktest.New(time.Time{})
	g := mustGCRA(t, ratelimit.Config{Rate: ratelimit.PerSecond(1000), Burst: 1, Clock: clk})
	tb, _ := ratelimit.NewTokenBucket(ratelimit.Config{Rate: ratelimit.PerSecond(1000), Burst: 1, Clock: clk})
	ctx := context.Background()
	now := int64(0)
	tests := []struct {
		name string
		fn   func()
	}{
		{"GCRA allowed", func() { now += ms; g.AllowAt(now) }},
		{"GCRA rejected", func() { g.AllowAt(now) }},
		{"GCRA decide allowed", func() { now += ms; g.DecideAt(now) }},
		{"GCRA decide rejected", func() { g.DecideAt(now) }},
		{"GCRA Acquire", func() { g.Acquire(ctx) }},
		{"TokenBucket allowed", func() { now += ms; tb.AllowAt(now) }},
		{"TokenBucket rejected", func() { tb.AllowAt(now) }},
		{"TokenBucket reserve", func() { now += ms; r := tb.ReserveAt(now); r.CancelAt(now) }},
		{"TokenBucket Acquire", func() { tb.Acquire(ctx) }},
	}
	for _, tt := range tests {
		if a := testing.AllocsPerRun(100, tt.fn); a != 0 {
			t.Errorf("%s: AllocsPerRun = %v, want 0", tt.name, a)
		}
	}
}

// FuzzGCRA drives the limiter and the reference bucket with arbitrary
// parameters and steps, requiring identical decisions and no panic.
func FuzzGCRA(f *testing.F) {
	f.Add(10, int64(time.Second), 3, []byte{0, 1, 1, 1, 99, 1, 100, 1, 150, 2})
	f.Add(1, int64(time.Hour), 1, []byte{255, 255, 0, 0})
	f.Add(1000000, int64(time.Second), 1000, []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, events int, per int64, burst int, steps []byte) {
		cfg := ratelimit.Config{Rate: ratelimit.Rate{Events: events, Per: time.Duration(per)}, Burst: burst}
		g, err := ratelimit.NewGCRA(cfg)
		if err != nil || events == 0 {
			return
		}
		iv := int64(cfg.Rate.Interval())
		b := int64(g.Burst())
		window := time.Duration(per)
		if per == 0 {
			window = time.Second
		}
		m := &bucketModel{t: iv, tau: b * iv, avail: b * iv, rate: events, window: window}
		now := int64(0)
		for i := 0; i+1 < len(steps); i += 2 {
			now += int64(steps[i]) * iv / 16
			n := int(steps[i+1]) % (int(b) + 2)
			if n == 0 {
				n = 1
			}
			got, want := g.DecideNAt(now, n), m.decide(now, n)
			if got != want {
				t.Fatalf("DecideNAt(%d, %d) = %+v, want %+v", now, n, got, want)
			}
		}
	})
}
