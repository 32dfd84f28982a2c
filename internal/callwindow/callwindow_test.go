package callwindow

import (
	"math/rand/v2"
	"sync"
	"testing"
)

// refCount is the naive model of a count window: the list of every call.
type refCount struct {
	n     int
	calls []uint32
}

func (r *refCount) add(failure, slow bool) { r.calls = append(r.calls, encode(failure, slow)) }

func (r *refCount) counts() Counts {
	var c Counts
	for _, v := range r.calls[max(0, len(r.calls)-r.n):] {
		c.Calls++
		if v&bitFail != 0 {
			c.Failures++
		}
		if v&bitSlow != 0 {
			c.Slow++
		}
	}
	return c
}

// refTime is the naive model of a time window: every call with its time;
// the window at time t holds the calls whose bucket lies within the n
// buckets ending with t's bucket.
type refTime struct {
	width, n int64
	calls    []refCall
}

type refCall struct {
	at int64
	v  uint32
}

func (r *refTime) add(at int64, failure, slow bool) {
	r.calls = append(r.calls, refCall{at, encode(failure, slow)})
}

func (r *refTime) counts(now int64) Counts {
	var c Counts
	e := floorDiv(now, r.width)
	for _, call := range r.calls {
		if ce := floorDiv(call.at, r.width); ce > e-r.n && ce <= e {
			c.Calls++
			if call.v&bitFail != 0 {
				c.Failures++
			}
			if call.v&bitSlow != 0 {
				c.Slow++
			}
		}
	}
	return c
}

func TestCountWindowTable(t *testing.T) {
	tests := []struct {
		name string
		n    int
		ops  []uint32 // encoded outcomes
		want Counts
	}{
		{"empty", 3, nil, Counts{}},
		{"partial", 3, []uint32{bitCall, bitCall | bitFail}, Counts{Calls: 2, Failures: 1}},
		{"full", 3, []uint32{bitCall | bitFail, bitCall, bitCall | bitSlow}, Counts{Calls: 3, Failures: 1, Slow: 1}},
		{"failure evicted", 3, []uint32{bitCall | bitFail, bitCall, bitCall, bitCall}, Counts{Calls: 3}},
		{"slow failure evicted by failure", 2, []uint32{bitCall | bitFail | bitSlow, bitCall, bitCall | bitFail}, Counts{Calls: 2, Failures: 1}},
		{"size one", 1, []uint32{bitCall | bitFail, bitCall | bitSlow}, Counts{Calls: 1, Slow: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewCount(tt.n)
			for _, v := range tt.ops {
				w.Add(v&bitFail != 0, v&bitSlow != 0)
			}
			if got := w.Counts(); got != tt.want {
				t.Errorf("Counts() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTimeWindowTable(t *testing.T) {
	type op struct {
		at            int64
		failure, slow bool
	}
	tests := []struct {
		name  string
		width int64
		n     int
		ops   []op
		at    int64
		want  Counts
	}{
		{"empty", 10, 3, nil, 0, Counts{}},
		{"same bucket", 10, 3, []op{{1, true, false}, {9, false, true}}, 9, Counts{Calls: 2, Failures: 1, Slow: 1}},
		{"spread within window", 10, 3, []op{{0, true, false}, {15, false, false}, {29, false, false}}, 29, Counts{Calls: 3, Failures: 1}},
		{"oldest bucket rolls out", 10, 3, []op{{0, true, false}, {15, false, false}, {30, false, false}}, 30, Counts{Calls: 2}},
		{"aged out without calls", 10, 3, []op{{0, true, false}, {15, false, false}}, 100, Counts{}},
		{"long gap then call", 10, 3, []op{{0, true, false}, {5, true, false}, {1000, false, true}}, 1000, Counts{Calls: 1, Slow: 1}},
		{"negative times", 10, 2, []op{{-25, true, false}, {-15, false, false}, {-5, false, false}}, -5, Counts{Calls: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := int64(0)
			if len(tt.ops) > 0 {
				start = tt.ops[0].at
			}
			w := NewTime(tt.width, tt.n, start)
			for _, o := range tt.ops {
				w.Add(o.at, o.failure, o.slow)
			}
			if got := w.CountsAt(tt.at); got != tt.want {
				t.Errorf("CountsAt(%d) = %+v, want %+v", tt.at, got, tt.want)
			}
		})
	}
}

// TestWindowsMatchModel drives both windows with long random sequences and
// compares them with the naive models after every step.
func TestWindowsMatchModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		n := 1 + rng.IntN(40)
		cw, rc := NewCount(n), &refCount{n: n}
		width := int64(1 + rng.IntN(100))
		start := rng.Int64N(1000) - 500
		tw, rt := NewTime(width, n, start), &refTime{width: width, n: int64(n)}
		now := start
		for step := range 2000 {
			failure, slow := rng.IntN(3) == 0, rng.IntN(4) == 0
			cw.Add(failure, slow)
			rc.add(failure, slow)
			if got, want := cw.Counts(), rc.counts(); got != want {
				t.Fatalf("round %d step %d: Count(%d).Counts() = %+v, want %+v", round, step, n, got, want)
			}
			switch rng.IntN(10) {
			case 0:
				now += rng.Int64N(width * int64(n) * 2) // sometimes jump past the window
			default:
				now += rng.Int64N(width)
			}
			tw.Add(now, failure, slow)
			rt.add(now, failure, slow)
			if got, want := tw.Counts(), rt.counts(now); got != want {
				t.Fatalf("round %d step %d: Time(width %d, n %d).Counts() at %d = %+v, want %+v", round, step, width, n, now, got, want)
			}
			if rng.IntN(20) == 0 {
				later := now + rng.Int64N(width*int64(n)+1)
				if got, want := tw.CountsAt(later), rt.counts(later); got != want {
					t.Fatalf("round %d step %d: CountsAt(%d) = %+v, want %+v", round, step, later, got, want)
				}
				now = later
			}
		}
	}
}

// TestWindowsConcurrent adds from many goroutines; once they are done the
// totals must equal the model's (with -race, it also checks the atomics).
func TestWindowsConcurrent(t *testing.T) {
	const goroutines, perG, n = 8, 2000, 64
	cw := NewCount(n)
	tw := NewTime(10, 8, 0)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				cw.Add(true, i%2 == 0) // all failures: the count window ends full of them
				tw.Add(int64(g), i%3 == 0, false)
			}
		})
	}
	wg.Wait()
	if got := cw.Counts(); got.Calls != n || got.Failures != n {
		t.Errorf("Count.Counts() = %+v, want %d calls, %d failures", got, n, n)
	}
	var fails int64
	for i := range perG {
		if i%3 == 0 {
			fails++
		}
	}
	want := Counts{Calls: goroutines * perG, Failures: goroutines * fails}
	if got := tw.Counts(); got != want {
		t.Errorf("Time.Counts() = %+v, want %+v", got, want)
	}
}

func FuzzCountWindow(f *testing.F) {
	f.Add(uint8(3), []byte{1, 3, 5, 1, 1})
	f.Add(uint8(1), []byte{3, 5, 7})
	f.Add(uint8(0), []byte{})
	f.Add(uint8(200), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Fuzz(func(t *testing.T, size uint8, ops []byte) {
		n := int(size%64) + 1
		w, ref := NewCount(n), &refCount{n: n}
		for i, b := range ops {
			failure, slow := b&bitFail != 0, b&bitSlow != 0
			w.Add(failure, slow)
			ref.add(failure, slow)
			if got, want := w.Counts(), ref.counts(); got != want {
				t.Fatalf("op %d: Counts() = %+v, want %+v", i, got, want)
			}
		}
	})
}

func FuzzTimeWindow(f *testing.F) {
	f.Add(uint8(3), uint8(10), int64(0), []byte{0x01, 0x13, 0xf5, 0x01})
	f.Add(uint8(1), uint8(1), int64(-7), []byte{0xff, 0x03})
	f.Add(uint8(10), uint8(100), int64(1<<40), []byte{})
	f.Fuzz(func(t *testing.T, buckets, width uint8, start int64, ops []byte) {
		n := int(buckets%32) + 1
		wd := int64(width) + 1
		start %= 1 << 50 // keep clear of overflow
		w, ref := NewTime(wd, n, start), &refTime{width: wd, n: int64(n)}
		now := start
		for i, b := range ops {
			// Bits 0-2 are the outcome; bits 3-7 step time, in units of a
			// quarter of the bucket width, so steps cross buckets and jump
			// past the whole window.
			now += int64(b>>3) * wd / 4
			if b&bitCall != 0 {
				w.Add(now, b&bitFail != 0, b&bitSlow != 0)
				ref.add(now, b&bitFail != 0, b&bitSlow != 0)
			}
			if got, want := w.CountsAt(now), ref.counts(now); got != want {
				t.Fatalf("op %d at %d: CountsAt = %+v, want %+v", i, now, got, want)
			}
		}
	})
}

// TestCountHealthyWindow drives a count window that is mostly full of
// successes, so that Add often takes its shortcut (a success added to a
// full window of successes writes nothing), and compares it with the
// model after every step; the shortcut must be taken, and failures added
// afterwards must still be evicted exactly N calls later.
func TestCountHealthyWindow(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 50 {
		n := 1 + rng.IntN(20)
		cw, rc := NewCount(n), &refCount{n: n}
		skipped := 0
		for step := range 3000 {
			failure, slow := rng.IntN(40) == 0, rng.IntN(60) == 0
			before := cw.seq.Load()
			cw.Add(failure, slow)
			rc.add(failure, slow)
			if cw.seq.Load() == before {
				skipped++
			}
			if got, want := cw.Counts(), rc.counts(); got != want {
				t.Fatalf("round %d step %d: Count(%d).Counts() = %+v, want %+v", round, step, n, got, want)
			}
		}
		if skipped == 0 {
			t.Fatalf("round %d: Count(%d).Add never skipped a success in a full window of successes", round, n)
		}
	}
}

// TestCountHealthyWindowConcurrent adds mostly successes from many
// goroutines, so that some skip the write while others add failures; once
// they are done the totals must match what the slots hold.
func TestCountHealthyWindowConcurrent(t *testing.T) {
	const goroutines, perG, n = 8, 5000, 16
	cw := NewCount(n)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 5))
			for range perG {
				cw.Add(rng.IntN(50) == 0, rng.IntN(70) == 0)
			}
		})
	}
	wg.Wait()
	var want Counts
	for i := range cw.slots {
		v := cw.slots[i].Load()
		if v&bitCall != 0 {
			want.Calls++
		}
		if v&bitFail != 0 {
			want.Failures++
		}
		if v&bitSlow != 0 {
			want.Slow++
		}
	}
	if got := cw.Counts(); got != want {
		t.Errorf("Counts() = %+v, want %+v as the slots hold", got, want)
	}
	if want.Calls != n {
		t.Errorf("%d calls in the window after %d adds, want %d", want.Calls, goroutines*perG, n)
	}
}
