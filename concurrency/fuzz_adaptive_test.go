package concurrency_test

import (
	"context"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/concurrency"
)

// FuzzLimiterBounds drives each algorithm with arbitrary windows: the
// limit stays within its bounds and every slot comes back.
func FuzzLimiterBounds(f *testing.F) {
	f.Add(uint8(0), []byte{10, 0, 20, 1, 200, 0, 5, 0})
	f.Add(uint8(1), []byte{1, 0, 1, 0, 255, 1, 255, 1})
	f.Add(uint8(2), []byte{50, 0, 40, 0, 30, 1, 20, 0, 10, 0})
	f.Add(uint8(3), []byte{3, 0, 3, 0, 3, 0, 90, 0, 90, 1})
	f.Fuzz(func(t *testing.T, which uint8, steps []byte) {
		var alg concurrency.Algorithm
		switch which % 4 {
		case 0:
			alg, _ = concurrency.NewAIMD(concurrency.AIMDConfig{MinLimit: 1, MaxLimit: 50})
		case 1:
			alg, _ = concurrency.NewVegas(concurrency.VegasConfig{MaxLimit: 50, Rand: func() float64 { return 0.5 }})
		case 2:
			alg, _ = concurrency.NewGradient2(concurrency.Gradient2Config{MinLimit: 2, MaxLimit: 50})
		default:
			alg, _ = concurrency.NewGradient(concurrency.GradientConfig{RequestCount: 3, Jitter: -1, MinRTTInterval: time.Second, MaxLimit: 50})
		}
		_, lo, hi := alg.Bounds()
		clk := clocktest.New(time.Time{})
		l, err := concurrency.NewLimiter(concurrency.LimiterConfig{Algorithm: alg, Clock: clk, MinSamples: 1})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(steps); i += 2 {
			n := 1 + int(steps[i])%60
			var ps []levee.Permit
			for range n {
				p, err := l.Acquire(context.Background())
				if err != nil {
					break
				}
				ps = append(ps, p)
			}
			clk.Advance(time.Duration(steps[i]) * 100 * time.Microsecond)
			res := levee.Success
			if steps[i+1]%2 == 1 {
				res = levee.Failure
			}
			clk.Advance(200 * time.Millisecond)
			for _, p := range ps {
				p.Record(levee.Outcome{Result: res})
			}
			if got := l.Limit(); got < lo || got > hi {
				t.Fatalf("Limit() = %d, want within [%d, %d]", got, lo, hi)
			}
		}
		if l.InFlight() != 0 {
			t.Fatalf("InFlight() = %d after all calls, want 0", l.InFlight())
		}
	})
}
