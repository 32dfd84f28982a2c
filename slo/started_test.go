package slo_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/slo"
)

// countingClock counts Nanotime readings.
type countingClock struct {
	*clocktest.Fake
	reads atomic.Int64
}

func (c *countingClock) Nanotime() int64 { c.reads.Add(1); return c.Fake.Nanotime() }

func TestStartedRecordReadsNoClock(t *testing.T) {
	clk := &countingClock{Fake: clocktest.New(time.Time{})}
	s, err := slo.New(slo.Config{Name: "x", Clock: clk, Alerts: []slo.Alert{}})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Second) // mid-bucket
	s.Start()
	defer s.Stop()
	before := clk.reads.Load()
	for range 5 {
		s.Record(levee.Outcome{Result: levee.Success})
	}
	if got := clk.reads.Load() - before; got != 0 {
		t.Errorf("a started SLO read the clock %d times for 5 records, want 0", got)
	}
	clk.Advance(time.Minute) // the boundary timer moves the head
	for range 3 {
		s.Record(levee.Outcome{Result: levee.Failure})
	}
	if c := s.Counts(time.Minute); c.Total != 3 || c.Good != 0 {
		t.Errorf("Counts(last minute) = %+v, want the 3 failures only: the head moved on time", c)
	}
	if c := s.Counts(0); c.Total != 8 || c.Good != 5 {
		t.Errorf("Counts(window) = %+v, want 8 events, 5 good", c)
	}
	// Far ahead: buckets roll without records in between.
	clk.Advance(45 * 24 * time.Hour)
	s.Record(levee.Outcome{Result: levee.Success})
	if c := s.Counts(0); c.Total != 1 || c.Good != 1 {
		t.Errorf("Counts after 45 days = %+v, want only the newest event", c)
	}
	s.Stop()
	before = clk.reads.Load()
	s.Record(levee.Outcome{Result: levee.Success})
	if clk.reads.Load() == before {
		t.Error("a stopped SLO recorded without reading the clock; its head may be stale")
	}
	if n := testing.AllocsPerRun(100, func() { s.Record(levee.Outcome{Result: levee.Success}) }); n != 0 {
		t.Errorf("Record allocates %v", n)
	}
}

func BenchmarkRecordStarted(b *testing.B) {
	s, err := slo.New(slo.Config{})
	if err != nil {
		b.Fatal(err)
	}
	s.Start()
	defer s.Stop()
	o := levee.Outcome{Result: levee.Success}
	b.ReportAllocs()
	for b.Loop() {
		s.Record(o)
	}
}

func BenchmarkRecordStartedParallel(b *testing.B) {
	s, err := slo.New(slo.Config{})
	if err != nil {
		b.Fatal(err)
	}
	s.Start()
	defer s.Stop()
	o := levee.Outcome{Result: levee.Success}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Record(o)
		}
	})
}
