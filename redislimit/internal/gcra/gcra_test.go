package gcra

import (
	"math"
	"testing"
)

func TestDecide(t *testing.T) {
	p := Params{Interval: 100_000, Burst: 3} // 10/s, burst 3
	tests := []struct {
		name      string
		tat, now  float64
		want, min int64
		res       Result
	}{
		{"idle key takes one", 0, 1e6, 1, 1, Result{TAT: 1e6 + 1e5, Granted: 1, Remaining: 2, RetryAfter: 0, ResetAfter: 1e5}},
		{"idle key takes burst", 0, 1e6, 3, 3, Result{TAT: 1e6 + 3e5, Granted: 3, Remaining: 0, RetryAfter: 1e5, ResetAfter: 3e5}},
		{"over burst refused (callers reject n > burst)", 0, 1e6, 4, 4, Result{TAT: 1e6, Granted: 0, Remaining: 3, RetryAfter: 1e5, ResetAfter: 0}},
		{"up to takes what is there", 1e6 + 2e5, 1e6, 5, 1, Result{TAT: 1e6 + 3e5, Granted: 1, Remaining: 0, RetryAfter: 1e5, ResetAfter: 3e5}},
		{"empty refuses with retry", 1e6 + 3e5, 1e6, 1, 1, Result{TAT: 1e6 + 3e5, Granted: 0, Remaining: 0, RetryAfter: 1e5, ResetAfter: 3e5}},
		{"empty retry for two", 1e6 + 3e5, 1e6, 2, 2, Result{TAT: 1e6 + 3e5, Granted: 0, Remaining: 0, RetryAfter: 2e5, ResetAfter: 3e5}},
		{"partially refilled", 1e6 + 3e5, 1e6 + 150_000, 1, 1, Result{TAT: 1e6 + 4e5, Granted: 1, Remaining: 0, RetryAfter: 5e4, ResetAfter: 2.5e5}},
		{"old tat is idle", 5, 1e6, 1, 1, Result{TAT: 1e6 + 1e5, Granted: 1, Remaining: 2, RetryAfter: 0, ResetAfter: 1e5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decide(p, tt.tat, tt.now, tt.want, tt.min); got != tt.res {
				t.Errorf("Decide(%v, %v, %d, %d) = %+v, want %+v", tt.tat, tt.now, tt.want, tt.min, got, tt.res)
			}
		})
	}
}

// TestDecideRate steps through time one microsecond grid at a time and checks
// that a key admits burst + elapsed/interval tokens, no more, no fewer.
func TestDecideRate(t *testing.T) {
	p := Params{Interval: 1e6 / 3, Burst: 2}
	var tat float64
	var got int64
	const start, steps, step = 1e9, 10_000, 1000.0
	for i := 0; i < steps; i++ {
		now := start + float64(i)*step
		r := Decide(p, tat, now, 1, 1)
		if r.Granted > 0 {
			tat = r.TAT
			got += r.Granted
		}
	}
	elapsed := float64(steps-1) * step
	want := int64(p.Burst + math.Floor(elapsed/p.Interval))
	if got != want {
		t.Errorf("admitted %d over %vµs, want %d", got, elapsed, want)
	}
}

func TestLocalBoundedMemory(t *testing.T) {
	l := NewLocal(Params{Interval: 1000, Burst: 1}, 2, 100)
	l.Take("a", 0, 1, 1)
	l.Take("b", 0, 1, 1)
	if r := l.Take("c", 0, 1, 1); r.Granted != 1 {
		t.Fatalf("Take(c) at full table = %+v, want a grant from the overflow cell", r)
	}
	if r := l.Take("d", 0, 1, 1); r.Granted != 0 {
		t.Fatalf("Take(d) sharing the overflow cell = %+v, want refusal", r)
	}
	if r := l.Take("e", 5000, 1, 1); r.Granted != 1 || l.Len() != 1 {
		t.Fatalf("Take(e) after idle sweep = %+v, Len %d; want grant and 1 key", r, l.Len())
	}
}

func FuzzDecide(f *testing.F) {
	f.Add(100_000.0, 3.0, 0.0, 1e6, int64(1), int64(1))
	f.Add(333_333.3, 2.0, 1e6+2e5, 1e6, int64(5), int64(1))
	f.Add(1.0, 1.0, 1e15, 1e15, int64(1), int64(1))
	f.Add(1.0, 5.0, 9.99999999999939e15, 9.99999999999939e15, int64(6), int64(1))
	f.Fuzz(func(t *testing.T, interval, burst, tat, now float64, want, min int64) {
		if !(interval >= 1 && interval < 1e12) || !(burst >= 1 && burst < 1e9) || burst != math.Floor(burst) {
			return
		}
		if !(now >= 0 && now < 1e16) || !(tat >= 0 && tat <= now+interval*burst) {
			return
		}
		if min < 1 || want < min || want > 1e9 {
			return
		}
		p := Params{Interval: interval, Burst: burst}
		r := Decide(p, tat, now, want, min)
		if r.Granted != 0 && (r.Granted < min || r.Granted > want) {
			t.Fatalf("Decide = %+v, granted outside [%d, %d]", r, min, want)
		}
		if r.Remaining < 0 || r.RetryAfter < 0 || r.ResetAfter < 0 {
			t.Fatalf("Decide = %+v, negative field", r)
		}
		if float64(r.Remaining+r.Granted) > burst {
			t.Fatalf("Decide = %+v, more than burst %v", r, burst)
		}
		if r.Granted > 0 && r.TAT > now+interval*burst*(1+1e-12) {
			t.Fatalf("Decide = %+v, TAT beyond now+tau", r)
		}
	})
}

// TestFullBurstAtAnyTime: an idle key has its whole burst, whatever the
// time. (now + tau - tat) lost the last token to rounding when now was
// large and fractional, as the local fallback's clock is.
func TestFullBurstAtAnyTime(t *testing.T) {
	params := []Params{{600000, 10}, {1e6 / 3, 3}, {1000, 50}, {1, 1}, {7.5, 100}}
	for _, p := range params {
		for i := range 2000 {
			now := 1e6 + float64(i)*1234567.891 + float64(i%7)/8
			r := Decide(p, 0, now, 1, 1)
			if r.Granted != 1 || r.Remaining != int64(p.Burst)-1 {
				t.Fatalf("Decide(%+v) on an idle key at %v = %+v, want 1 granted, %v remaining", p, now, r, p.Burst-1)
			}
		}
	}
}
