package retry_test

import (
	"math"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/retry"
)

func TestTokenBudget(t *testing.T) {
	b, err := retry.NewTokenBudget(retry.TokenBudgetConfig{MaxTokens: 10, TokenRatio: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name       string
		outcome    levee.Result
		wantTokens float64
		wantRetry  bool
	}{
		{"failure 1", levee.Failure, 9, true},
		{"failure 2", levee.Failure, 8, true},
		{"failure 3", levee.Failure, 7, true},
		{"failure 4", levee.Failure, 6, true},
		{"failure 5 reaches half", levee.Failure, 5, false},
		{"ignored changes nothing", levee.Ignored, 5, false},
		{"success", levee.Success, 5.5, true},
		{"success", levee.Success, 6, true},
		{"failure", levee.Failure, 5, false},
	}
	for _, s := range steps {
		b.Outcome(s.outcome)
		if got := b.Tokens(); got != s.wantTokens {
			t.Errorf("%s: Tokens() = %v, want %v", s.name, got, s.wantTokens)
		}
		if got := b.TryRetry(); got != s.wantRetry {
			t.Errorf("%s: TryRetry() = %v, want %v", s.name, got, s.wantRetry)
		}
	}
	for range 100 {
		b.Outcome(levee.Failure)
	}
	if got := b.Tokens(); got != 0 {
		t.Errorf("Tokens() after 100 failures = %v, want 0 (floor)", got)
	}
	for range 100 {
		b.Outcome(levee.Success)
	}
	if got := b.Tokens(); got != 10 {
		t.Errorf("Tokens() after 100 successes = %v, want 10 (ceiling)", got)
	}
}

func TestTokenBudgetConfig(t *testing.T) {
	b, err := retry.NewTokenBudget(retry.TokenBudgetConfig{})
	if err != nil || b.Tokens() != 100 {
		t.Errorf("NewTokenBudget(zero) = %v tokens, %v; want 100, nil", b.Tokens(), err)
	}
	for _, cfg := range []retry.TokenBudgetConfig{{MaxTokens: -1}, {TokenRatio: -1}, {MaxTokens: math.NaN()}, {MaxTokens: 2e9}} {
		if _, err := retry.NewTokenBudget(cfg); err == nil {
			t.Errorf("NewTokenBudget(%+v) = nil error, want one", cfg)
		}
	}
}

func TestRatioBudget(t *testing.T) {
	clk := clocktest.New(time.Time{})
	b, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 0.2, MinPerSecond: 0.2, Window: 10 * time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	// Minimum allowance: 0.2/s × 10s = 2 retries with no calls at all.
	for i, want := range []bool{true, true, false} {
		if got := b.TryRetry(); got != want {
			t.Errorf("TryRetry() #%d with no calls = %v, want %v", i+1, got, want)
		}
	}
	// 10 calls earn 2 more retries.
	for range 10 {
		b.Request()
	}
	for i, want := range []bool{true, true, false} {
		if got := b.TryRetry(); got != want {
			t.Errorf("TryRetry() #%d after 10 calls = %v, want %v", i+1, got, want)
		}
	}
	if calls, retries := b.Counts(); calls != 10 || retries != 4 {
		t.Errorf("Counts() = %d, %d; want 10, 4", calls, retries)
	}
	// 5s later the same counts still hold; 10s later they have left.
	clk.Advance(5 * time.Second)
	if b.TryRetry() {
		t.Error("TryRetry() after 5s = true, want false (window still full)")
	}
	clk.Advance(5 * time.Second)
	if calls, retries := b.Counts(); calls != 0 || retries != 0 {
		t.Errorf("Counts() after 10s = %d, %d; want 0, 0", calls, retries)
	}
	if !b.TryRetry() {
		t.Error("TryRetry() after the window = false, want true")
	}
}

func TestRatioBudgetRollingWindow(t *testing.T) {
	clk := clocktest.New(time.Time{})
	b, _ := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 1, MinPerSecond: -1, Window: time.Second, Clock: clk})
	for range 5 {
		b.Request()
		clk.Advance(100 * time.Millisecond)
	}
	// Calls at 0, 100, ..., 400ms; now 500ms.
	steps := []struct {
		at        time.Duration
		wantCalls uint64
	}{
		{500 * time.Millisecond, 5},
		{999 * time.Millisecond, 5},
		{1000 * time.Millisecond, 4},
		{1250 * time.Millisecond, 2},
		{1399 * time.Millisecond, 1},
		{1400 * time.Millisecond, 0},
	}
	for _, s := range steps {
		clk.Set(clocktest.Epoch.Add(s.at))
		if calls, _ := b.Counts(); calls != s.wantCalls {
			t.Errorf("Counts() at %v = %d calls, want %d", s.at, calls, s.wantCalls)
		}
	}
}

func TestRatioBudgetConfig(t *testing.T) {
	for _, cfg := range []retry.RatioBudgetConfig{{Ratio: -1}, {Window: time.Millisecond}, {MinPerSecond: math.Inf(1)}, {Ratio: math.NaN()}} {
		if _, err := retry.NewRatioBudget(cfg); err == nil {
			t.Errorf("NewRatioBudget(%+v) = nil error, want one", cfg)
		}
	}
}

func FuzzRatioBudget(f *testing.F) {
	f.Add(uint8(10), uint8(3), uint16(100), uint16(50))
	f.Add(uint8(0), uint8(0), uint16(1), uint16(10000))
	f.Fuzz(func(t *testing.T, calls, tries uint8, stepMS, window uint16) {
		clk := clocktest.New(time.Time{})
		w := time.Duration(window%10000+10) * time.Millisecond
		b, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 0.5, MinPerSecond: -1, Window: w, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		for range calls {
			b.Request()
		}
		allowed := 0
		for range tries {
			if b.TryRetry() {
				allowed++
			}
		}
		if max := int(calls) / 2; allowed > max {
			t.Errorf("allowed %d retries for %d calls at ratio 0.5, want <= %d", allowed, calls, max)
		}
		clk.Advance(time.Duration(stepMS) * time.Millisecond)
		c, r := b.Counts()
		if c > uint64(calls) || r > uint64(allowed) {
			t.Errorf("Counts() = %d, %d; want at most %d, %d", c, r, calls, allowed)
		}
		if time.Duration(stepMS)*time.Millisecond >= w && (c != 0 || r != 0) {
			t.Errorf("Counts() after %dms over a %v window = %d, %d; want 0, 0", stepMS, w, c, r)
		}
	})
}

func FuzzDelay(f *testing.F) {
	f.Add(uint8(0), uint8(0), int64(100), int64(10000), 0.5, 3, int64(0))
	f.Add(uint8(3), uint8(1), int64(1), int64(1), 0.999, 1000, int64(1<<62))
	f.Fuzz(func(t *testing.T, jitter, backoff uint8, baseMS, capMS int64, r float64, n int, prev int64) {
		if !(r >= 0 && r < 1) || baseMS <= 0 || capMS < baseMS || capMS > 1e9 || n < 1 || prev < 0 {
			return
		}
		cfg := retry.Config{Jitter: retry.Jitter(jitter % 4), Backoff: retry.Backoff(backoff % 2),
			BaseDelay: time.Duration(baseMS) * time.Millisecond, MaxDelay: time.Duration(capMS) * time.Millisecond,
			Rand: func() float64 { return r }}
		ret := mustNew(t, cfg)
		d := ret.Delay(n, time.Duration(prev))
		if d < 0 || d > cfg.MaxDelay {
			t.Errorf("Delay(%d, %v) = %v, want within [0, %v]", n, time.Duration(prev), d, cfg.MaxDelay)
		}
	})
}

func FuzzTokenBudget(f *testing.F) {
	f.Add([]byte{0, 0, 1, 2, 0, 1}, uint16(10), uint16(500))
	f.Add([]byte{1, 1, 1}, uint16(1), uint16(1))
	f.Fuzz(func(t *testing.T, outcomes []byte, maxTokens, ratioMilli uint16) {
		if maxTokens == 0 || ratioMilli == 0 {
			return
		}
		b, err := retry.NewTokenBudget(retry.TokenBudgetConfig{MaxTokens: float64(maxTokens), TokenRatio: float64(ratioMilli) / 1000})
		if err != nil {
			t.Fatal(err)
		}
		want := int64(maxTokens) * 1000 // reference, in thousandths
		for _, o := range outcomes {
			r := levee.Result(o % 3)
			b.Outcome(r)
			switch r {
			case levee.Failure:
				want = max(want-1000, 0)
			case levee.Success:
				want = min(want+int64(ratioMilli), int64(maxTokens)*1000)
			}
			if got := b.Tokens(); got != float64(want)/1000 {
				t.Fatalf("Tokens() = %v, want %v", got, float64(want)/1000)
			}
			if got, wantRetry := b.TryRetry(), want > int64(maxTokens)*1000/2; got != wantRetry {
				t.Fatalf("TryRetry() at %v of %d tokens = %v, want %v", b.Tokens(), maxTokens, got, wantRetry)
			}
		}
	})
}
