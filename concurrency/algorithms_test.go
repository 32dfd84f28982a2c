package concurrency_test

import (
	"math"
	"testing"
	"time"

	"github.com/levee-go/levee/concurrency"
)

const ms = time.Millisecond

// win builds a window of n calls of latency rtt.
func win(end int64, n int, rtt time.Duration, drops, inflight int) concurrency.Window {
	rtts := make([]time.Duration, n)
	for i := range rtts {
		rtts[i] = rtt
	}
	return concurrency.NewWindow(end-int64(100*ms), end, rtts, drops, inflight)
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestAIMDUpdate(t *testing.T) {
	a, err := concurrency.NewAIMD(concurrency.AIMDConfig{MinLimit: 1, Timeout: 50 * ms})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		limit float64
		w     concurrency.Window
		want  float64
	}{
		{"drop backs off by the ratio", 30, win(0, 10, 10*ms, 1, 30), 27},
		{"drop lowers by at least one", 5, win(0, 10, 10*ms, 2, 5), 4},
		{"drop never below one", 1, win(0, 10, 10*ms, 1, 1), 1},
		{"slower than the timeout is a drop", 30, win(0, 10, 60*ms, 0, 30), 27},
		{"busy window adds one", 30, win(0, 10, 10*ms, 0, 15), 31},
		{"app-limited window holds", 30, win(0, 10, 10*ms, 0, 14), 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := a.Update(tt.w, tt.limit).Limit; !near(got, tt.want) {
				t.Errorf("Update(%+v, %v) = %v, want %v", tt.w, tt.limit, got, tt.want)
			}
		})
	}
}

func TestVegasSteps(t *testing.T) {
	v, err := concurrency.NewVegas(concurrency.VegasConfig{Rand: func() float64 { return 0.999 }})
	if err != nil {
		t.Fatal(err)
	}
	// Steps run in order: Vegas keeps its no-load latency between them.
	steps := []struct {
		name  string
		limit float64
		w     concurrency.Window
		want  float64
	}{
		{"first window sets the no-load latency", 20, win(0, 10, 10*ms, 0, 20), 20},
		{"no queue grows by beta", 20, win(0, 10, 10*ms, 0, 20), 26},
		{"small queue grows by log10", 20, win(0, 10, 11*ms, 0, 20), 21},
		{"queue between alpha and beta holds", 20, win(0, 10, 11500*time.Microsecond, 0, 20), 20},
		{"queue above beta shrinks", 20, win(0, 10, 20*ms, 0, 20), 19},
		{"drop shrinks", 20, win(0, 10, 10*ms, 1, 20), 19},
		{"app-limited holds", 20, win(0, 10, 10*ms, 0, 9), 20},
		{"lower latency is the new no-load", 20, win(0, 10, 5*ms, 0, 20), 20},
		{"against the new no-load, queue above beta", 20, win(0, 10, 10*ms, 0, 20), 19},
	}
	for _, s := range steps {
		if got := v.Update(s.w, s.limit).Limit; !near(got, s.want) {
			t.Fatalf("%s: Update(avg %v, %v) = %v, want %v", s.name, s.w.AvgRTT, s.limit, got, s.want)
		}
	}
	if got := v.NoLoadRTT(); got != 5*ms {
		t.Errorf("NoLoadRTT() = %v, want 5ms", got)
	}
}

func TestVegasProbe(t *testing.T) {
	v, err := concurrency.NewVegas(concurrency.VegasConfig{ProbeMultiplier: 1, Rand: func() float64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	// Probe after 0.5·1·limit = 10 samples: the window's latency becomes
	// the no-load latency even though it is higher.
	v.Update(win(0, 5, 10*ms, 0, 20), 20)
	v.Update(win(0, 5, 30*ms, 0, 20), 20)
	if got := v.NoLoadRTT(); got != 30*ms {
		t.Errorf("NoLoadRTT() after a probe = %v, want 30ms", got)
	}
}

func TestGradient2Steps(t *testing.T) {
	g, err := concurrency.NewGradient2(concurrency.Gradient2Config{MinLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name  string
		limit float64
		w     concurrency.Window
		want  float64
	}{
		// long = short: gradient 1, the limit grows by queue·smoothing.
		{"steady latency creeps up", 20, win(0, 10, 10*ms, 0, 20), 20.8},
		// long = (10+20)/2 = 15ms; gradient 0.75.
		{"rising latency shrinks", 20.8, win(0, 10, 20*ms, 0, 20), 20.56},
		{"app-limited holds", 20.56, win(0, 10, 20*ms, 0, 10), 20.56},
	}
	for _, s := range steps {
		if got := g.Update(s.w, s.limit).Limit; !near(got, s.want) {
			t.Fatalf("%s: Update(avg %v, %v) = %v, want %v", s.name, s.w.AvgRTT, s.limit, got, s.want)
		}
	}
}

func TestGradient2Bounds(t *testing.T) {
	g, err := concurrency.NewGradient2(concurrency.Gradient2Config{MaxLimit: 21})
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Update(win(0, 10, 10*ms, 0, 20), 20).Limit; !near(got, 20.8) {
		t.Fatalf("Update = %v, want 20.8", got)
	}
	if got := g.Update(win(0, 10, 10*ms, 0, 20), 20.8).Limit; !near(got, 21) {
		t.Errorf("Update at the top = %v, want MaxLimit 21", got)
	}
	// A long latency far above the current one is pulled down, and the
	// limit never falls below MinLimit (20).
	if got := g.Update(win(0, 10, 1000*ms, 0, 20), 21).Limit; !near(got, 20) {
		t.Errorf("Update with a latency spike = %v, want MinLimit 20", got)
	}
}

func TestGradientSteps(t *testing.T) {
	g, err := concurrency.NewGradient(concurrency.GradientConfig{RequestCount: 5, Jitter: -1, MinRTTInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !g.Measuring() {
		t.Fatal("Measuring() = false at start, want true")
	}
	sec := int64(time.Second)
	steps := []struct {
		name  string
		limit float64
		w     concurrency.Window
		want  float64
		pin   bool
	}{
		{"measurement needs RequestCount samples", 3, win(0, 3, 10*ms, 0, 3), 3, true},
		{"measurement ends, limit restored", 3, win(sec/10, 3, 10*ms, 0, 3), 3, true},
		// gradient = 10·1.25/10 = 1.25; 3.75 + √3.75.
		{"low latency grows with headroom", 3, win(2*sec/10, 10, 10*ms, 0, 3), 5.686491673103708, false},
		// gradient 0.5 (clamped): 2.843 + √2.843.
		{"high latency halves", 5.686491673103708, win(3*sec/10, 10, 100*ms, 0, 5), 4.5294385410052485, false},
		{"interval passed: pinned for a new measurement", 4.5294385410052485, win(2*sec, 10, 10*ms, 0, 5), 3, true},
		{"new measurement ends, limit restored", 3, win(2*sec+sec/10, 10, 8*ms, 0, 3), 4.5294385410052485, true},
	}
	for _, s := range steps {
		d := g.Update(s.w, s.limit)
		if !near(d.Limit, s.want) || d.Pin != s.pin {
			t.Fatalf("%s: Update(p50 %v, %v) = %v pin %v, want %v pin %v", s.name, s.w.Quantile(0.5), s.limit, d.Limit, d.Pin, s.want, s.pin)
		}
	}
	if got := g.MinRTT(); got != 8*ms {
		t.Errorf("MinRTT() = %v, want 8ms", got)
	}
}

func TestWindowQuantile(t *testing.T) {
	w := concurrency.NewWindow(0, 1, []time.Duration{5 * ms, 1 * ms, 3 * ms, 2 * ms, 4 * ms}, 0, 1)
	tests := []struct {
		q    float64
		want time.Duration
	}{{0, 1 * ms}, {0.2, 1 * ms}, {0.5, 3 * ms}, {0.99, 5 * ms}, {1, 5 * ms}}
	for _, tt := range tests {
		if got := w.Quantile(tt.q); got != tt.want {
			t.Errorf("Quantile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if w.MinRTT != ms || w.MaxRTT != 5*ms || w.AvgRTT != 3*ms {
		t.Errorf("NewWindow summary = min %v avg %v max %v, want 1ms 3ms 5ms", w.MinRTT, w.AvgRTT, w.MaxRTT)
	}
	if got := (concurrency.Window{AvgRTT: 7 * ms}).Quantile(0.5); got != 7*ms {
		t.Errorf("Quantile of a window without latencies = %v, want its AvgRTT 7ms", got)
	}
}

func TestAlgorithmConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		make func() error
	}{
		{"aimd negative initial", func() error { _, err := concurrency.NewAIMD(concurrency.AIMDConfig{InitialLimit: -1}); return err }},
		{"aimd ratio too low", func() error { _, err := concurrency.NewAIMD(concurrency.AIMDConfig{BackoffRatio: 0.4}); return err }},
		{"aimd ratio one", func() error { _, err := concurrency.NewAIMD(concurrency.AIMDConfig{BackoffRatio: 1}); return err }},
		{"aimd negative timeout", func() error { _, err := concurrency.NewAIMD(concurrency.AIMDConfig{Timeout: -1}); return err }},
		{"aimd max below min", func() error {
			_, err := concurrency.NewAIMD(concurrency.AIMDConfig{MinLimit: 10, MaxLimit: 5})
			return err
		}},
		{"aimd initial above max", func() error {
			_, err := concurrency.NewAIMD(concurrency.AIMDConfig{InitialLimit: 50, MinLimit: 1, MaxLimit: 40})
			return err
		}},
		{"vegas smoothing above one", func() error { _, err := concurrency.NewVegas(concurrency.VegasConfig{Smoothing: 1.5}); return err }},
		{"vegas negative probe", func() error { _, err := concurrency.NewVegas(concurrency.VegasConfig{ProbeMultiplier: -1}); return err }},
		{"gradient2 negative smoothing", func() error {
			_, err := concurrency.NewGradient2(concurrency.Gradient2Config{Smoothing: -0.1})
			return err
		}},
		{"gradient2 negative long window", func() error {
			_, err := concurrency.NewGradient2(concurrency.Gradient2Config{LongWindow: -1})
			return err
		}},
		{"gradient percentile above one", func() error { _, err := concurrency.NewGradient(concurrency.GradientConfig{Percentile: 2}); return err }},
		{"gradient negative buffer", func() error { _, err := concurrency.NewGradient(concurrency.GradientConfig{Buffer: -1}); return err }},
		{"gradient jitter above one", func() error { _, err := concurrency.NewGradient(concurrency.GradientConfig{Jitter: 1.5}); return err }},
		{"gradient max below min", func() error {
			_, err := concurrency.NewGradient(concurrency.GradientConfig{MinConcurrency: 10, MaxLimit: 5})
			return err
		}},
		{"gradient negative count", func() error {
			_, err := concurrency.NewGradient(concurrency.GradientConfig{RequestCount: -1})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.make(); err == nil {
				t.Errorf("constructor = nil error, want one")
			}
		})
	}
}

func TestAlgorithmDefaults(t *testing.T) {
	a, _ := concurrency.NewAIMD(concurrency.AIMDConfig{})
	v, _ := concurrency.NewVegas(concurrency.VegasConfig{})
	g2, _ := concurrency.NewGradient2(concurrency.Gradient2Config{})
	g, _ := concurrency.NewGradient(concurrency.GradientConfig{})
	tests := []struct {
		name         string
		alg          concurrency.Algorithm
		init, lo, hi int
	}{
		{"aimd", a, 20, 20, 200},
		{"vegas", v, 20, 1, 1000},
		{"gradient2", g2, 20, 20, 200},
		{"gradient", g, 3, 3, 1000},
	}
	for _, tt := range tests {
		i, lo, hi := tt.alg.Bounds()
		if i != tt.init || lo != tt.lo || hi != tt.hi {
			t.Errorf("%s Bounds() = %d, %d, %d, want %d, %d, %d", tt.name, i, lo, hi, tt.init, tt.lo, tt.hi)
		}
	}
}
