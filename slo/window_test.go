package slo_test

import (
	"math"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/slo"
)

// naiveWindow is the reference for the bucket ring: it keeps every event
// and applies the documented rules directly. An event belongs to the bucket
// floor(t / width); the newest bucket is the latest one any record or query
// has reached; an event older than the ring when recorded is dropped; a
// window of w holds the newest ceil(w / width) buckets, at most the ring.
type naiveWindow struct {
	width, n int64
	cur      int64
	events   []naiveEvent
}

type naiveEvent struct {
	bucket int64
	good   bool
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (w *naiveWindow) record(t int64, good bool) {
	b := floorDiv(t, w.width)
	if b > w.cur {
		w.cur = b
	} else if b <= w.cur-w.n {
		return
	}
	w.events = append(w.events, naiveEvent{b, good})
}

func (w *naiveWindow) counts(now int64, d time.Duration) slo.Counts {
	w.cur = max(w.cur, floorDiv(now, w.width))
	span := w.n
	if d > 0 && int64(d) < w.width*w.n {
		span = (int64(d) + w.width - 1) / w.width
	}
	var c slo.Counts
	for _, e := range w.events {
		if e.bucket > w.cur-span && e.bucket <= w.cur {
			c.Total++
			if e.good {
				c.Good++
			}
		}
	}
	return c
}

// FuzzWindow drives an SLO of 16 one-second buckets with a byte program and
// compares every window's counts with the naive reference after each step.
// Each byte is an op (low two bits) and an argument (the rest):
// 0 advance the clock by arg × 250ms; 1 record a good outcome now; 2 record
// a bad one now; 3 record at now − arg × 500ms (good when arg is even).
func FuzzWindow(f *testing.F) {
	seeds := [][]byte{
		{},
		{1, 2, 1, 0 | 4<<2, 2},                // events in one bucket, then the next
		{1, 1, 2, 0 | 63<<2, 1, 0 | 63<<2, 2}, // jumps longer than the window
		{2, 0 | 3<<2, 3 | 2<<2, 3 | 40<<2, 3 | 1<<2}, // late records, one too old
		{0 | 7<<2, 1, 0 | 7<<2, 1, 0 | 7<<2, 2, 0 | 7<<2, 2, 0 | 7<<2, 1, 0 | 7<<2, 1, 0 | 7<<2, 1, 0 | 7<<2, 1, 0 | 7<<2, 2},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) > 512 {
			return
		}
		clk := clocktest.New(time.Time{})
		s, err := slo.New(slo.Config{Window: 16 * time.Second, Bucket: time.Second, Alerts: []slo.Alert{}, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		ref := &naiveWindow{width: int64(time.Second), n: 16}
		var now int64
		windows := []time.Duration{0, time.Nanosecond, time.Second, 2500 * time.Millisecond, 5 * time.Second, 16 * time.Second, time.Hour}
		for i, op := range prog {
			arg := int64(op >> 2)
			switch op & 3 {
			case 0:
				d := time.Duration(arg) * 250 * time.Millisecond
				clk.Advance(d)
				now += int64(d)
			case 1:
				s.Record(levee.Outcome{Result: levee.Success})
				ref.record(now, true)
			case 2:
				s.Record(levee.Outcome{Result: levee.Failure})
				ref.record(now, false)
			case 3:
				back := time.Duration(arg) * 500 * time.Millisecond
				o := levee.Outcome{Result: levee.Failure}
				if arg%2 == 0 {
					o.Result = levee.Success
				}
				s.RecordAt(clk.Now().Add(-back), o)
				ref.record(now-int64(back), arg%2 == 0)
			}
			for _, w := range windows {
				got, want := s.Counts(w), ref.counts(now, w)
				if got != want {
					t.Fatalf("step %d (op %#x): Counts(%v) = %+v, want %+v", i, op, w, got, want)
				}
			}
			// Budget arithmetic holds together whatever the counts.
			b := s.Budget()
			if math.Abs(b.Remaining-(b.Total-b.Consumed)) > 1e-9*max(1, b.Total) ||
				math.Abs(b.RemainingRatio-(1-b.ConsumedRatio)) > 1e-12 || b.Total < 0 {
				t.Fatalf("step %d: Budget() = %+v is inconsistent", i, b)
			}
			if br := s.BurnRate(0); br < 0 || math.IsNaN(br) {
				t.Fatalf("step %d: BurnRate(0) = %v", i, br)
			}
		}
	})
}
