package slo_test

import (
	"context"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/slo"
)

var (
	good = levee.Outcome{Result: levee.Success}
	bad  = levee.Outcome{Result: levee.Failure}
)

func newSLO(t testing.TB, cfg slo.Config) (*slo.SLO, *clocktest.Fake) {
	t.Helper()
	clk := clocktest.New(time.Time{})
	cfg.Clock = clk
	s, err := slo.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	return s, clk
}

// record counts g good and b bad outcomes now.
func record(s *slo.SLO, g, b int) {
	for range g {
		s.Record(good)
	}
	for range b {
		s.Record(bad)
	}
}

func near(got, want, tol float64) bool {
	if want == 0 {
		return math.Abs(got) <= tol
	}
	return math.Abs(got-want) <= tol*math.Abs(want)
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  slo.Config
		want string // substring of the error; empty means valid
	}{
		{"zero", slo.Config{}, ""},
		{"latency", slo.Config{Latency: 300 * time.Millisecond, Objective: 0.99}, ""},
		{"objective one", slo.Config{Objective: 1}, "Objective 1"},
		{"objective negative", slo.Config{Objective: -0.5}, "Objective -0.5"},
		{"objective NaN", slo.Config{Objective: math.NaN()}, "Objective NaN"},
		{"bucket negative", slo.Config{Bucket: -time.Second}, "Bucket -1s"},
		{"window below bucket", slo.Config{Window: 30 * time.Second, Alerts: []slo.Alert{}}, "Window 30s must be at least Bucket 1m0s"},
		{"window not whole", slo.Config{Window: 90 * time.Second, Alerts: []slo.Alert{}}, "Window 1m30s is not a whole number"},
		{"too many buckets", slo.Config{Bucket: time.Millisecond}, "more than"},
		{"latency negative", slo.Config{Latency: -1}, "Latency -1ns"},
		{"eval negative", slo.Config{EvalInterval: -time.Second}, "EvalInterval -1s"},
		{"severity empty", slo.Config{Alerts: []slo.Alert{{Long: time.Hour, Short: time.Minute, Factor: 2}}}, "Alerts[0].Severity"},
		{"severity upper", slo.Config{Alerts: []slo.Alert{{Severity: "Page", Long: time.Hour, Short: time.Minute, Factor: 2}}}, `Severity "Page"`},
		{"short zero", slo.Config{Alerts: []slo.Alert{{Severity: "page", Long: time.Hour, Factor: 2}}}, "Alerts[0].Short 0s"},
		{"long not whole", slo.Config{Alerts: []slo.Alert{{Severity: "page", Long: 90 * time.Second, Short: time.Minute, Factor: 2}}}, "Alerts[0].Long 1m30s"},
		{"short above long", slo.Config{Alerts: []slo.Alert{{Severity: "page", Long: time.Hour, Short: 2 * time.Hour, Factor: 2}}}, "Short 2h0m0s must not exceed Long"},
		{"long above window", slo.Config{Window: 24 * time.Hour, Alerts: []slo.Alert{{Severity: "page", Long: 48 * time.Hour, Short: time.Hour, Factor: 2}}}, "must not exceed Window"},
		{"factor zero", slo.Config{Alerts: []slo.Alert{{Severity: "page", Long: time.Hour, Short: time.Minute}}}, "Alerts[0].Factor 0"},
		{"factor inf", slo.Config{Alerts: []slo.Alert{{Severity: "page", Long: time.Hour, Short: time.Minute, Factor: math.Inf(1)}}}, "Factor +Inf"},
		{"no alerts", slo.Config{Alerts: []slo.Alert{}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := slo.New(tt.cfg)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("New(%+v) = %v, want no error", tt.cfg, err)
			case tt.want != "" && err == nil:
				t.Fatalf("New(%+v) = nil error, want one containing %q", tt.cfg, tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("New(%+v) = %v, want an error containing %q", tt.cfg, err, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	s, _ := newSLO(t, slo.Config{})
	c := s.Config()
	if c.Name != "slo" || c.Objective != 0.999 || c.Window != 30*24*time.Hour || c.Bucket != time.Minute ||
		c.MinEvents != 100 || c.EvalInterval != 30*time.Second || c.Stage != slo.StageSLO || len(c.Alerts) != 4 {
		t.Fatalf("Config() = %+v, want the documented defaults", c)
	}
	if got := s.SLI(); got != 1 {
		t.Errorf("SLI() of an empty SLO = %v, want 1", got)
	}
	if got := s.TimeToExhaustion(time.Hour); got != levee.Never {
		t.Errorf("TimeToExhaustion(1h) of an empty SLO = %v, want Never", got)
	}
	if b := s.Budget(); b.RemainingRatio != 1 || b.Total != 0 {
		t.Errorf("Budget() of an empty SLO = %+v, want RemainingRatio 1 and Total 0", b)
	}
}

// TestWorkedExamples checks the burn-rate arithmetic against figures worked
// out by hand for a 99.9% objective over 30 days.
func TestWorkedExamples(t *testing.T) {
	const day = 24 * time.Hour
	t.Run("1% errors just after start: burn 10, budget lasts 3 days", func(t *testing.T) {
		s, _ := newSLO(t, slo.Config{})
		record(s, 990, 10)
		if got := s.BurnRate(time.Hour); !near(got, 10, 1e-9) {
			t.Errorf("BurnRate(1h) = %v, want 10", got)
		}
		// The SLO has run for less than one bucket (counted as one
		// minute), so the budget is extrapolated to 43,200 minutes of this
		// traffic: 0.1% of 43.2 million events; 10 are spent.
		b := s.Budget()
		if !near(b.Total, 43200, 1e-9) || b.Consumed != 10 || !near(b.ConsumedRatio, 10.0/43200, 1e-9) {
			t.Errorf("Budget() = %+v, want Total 43200, Consumed 10, ConsumedRatio 1/4320", b)
		}
		// What is left lasts 30 days / 10 = 3 days less the minute spent.
		want := 3*day - time.Minute
		if got := s.TimeToExhaustion(time.Hour); (got - want).Abs() > time.Second {
			t.Errorf("TimeToExhaustion(1h) = %v, want %v", got, want)
		}
	})
	t.Run("0.1% errors for 15 days: burn 1, half the budget spent, 15 days left", func(t *testing.T) {
		s, clk := newSLO(t, slo.Config{})
		for range 15 * 24 * 6 {
			record(s, 999, 1)
			clk.Advance(10 * time.Minute)
		}
		if got := s.BurnRate(time.Hour); !near(got, 1, 1e-9) {
			t.Errorf("BurnRate(1h) = %v, want 1", got)
		}
		st := s.Status()
		if !near(st.Budget.ConsumedRatio, 0.5, 1e-9) || !near(st.Budget.RemainingRatio, 0.5, 1e-9) {
			t.Errorf("Status().Budget = %+v, want half consumed", st.Budget)
		}
		if want := 15 * day; (st.TimeToExhaustion - want).Abs() > time.Second {
			t.Errorf("Status().TimeToExhaustion = %v, want %v", st.TimeToExhaustion, want)
		}
		if !near(st.SLI, 0.999, 1e-12) {
			t.Errorf("Status().SLI = %v, want 0.999", st.SLI)
		}
	})
	t.Run("1% errors for a whole window: budget spent ten times over", func(t *testing.T) {
		s, clk := newSLO(t, slo.Config{})
		for range 30 * 24 * 6 {
			clk.Advance(10 * time.Minute)
			record(s, 99, 1)
		}
		if got := s.BurnRate(0); !near(got, 10, 1e-9) {
			t.Errorf("BurnRate(window) = %v, want 10", got)
		}
		b := s.Budget()
		if !near(b.ConsumedRatio, 10, 1e-9) || !near(b.RemainingRatio, -9, 1e-9) {
			t.Errorf("Budget() = %+v, want ConsumedRatio 10, RemainingRatio -9", b)
		}
		if c := s.Counts(0); c.Total != 30*24*6*100 || c.Bad() != 30*24*6 {
			t.Errorf("Counts(window) = %+v, want 432000 events, 4320 bad", c)
		}
		if got := s.TimeToExhaustion(time.Hour); got != 0 {
			t.Errorf("TimeToExhaustion(1h) = %v, want 0", got)
		}
	})
}

func TestLatencySLI(t *testing.T) {
	s, _ := newSLO(t, slo.Config{Latency: 100 * time.Millisecond})
	s.Record(levee.Outcome{Result: levee.Success, Latency: 50 * time.Millisecond})
	s.Record(levee.Outcome{Result: levee.Success, Latency: 100 * time.Millisecond})
	s.Record(levee.Outcome{Result: levee.Success, Latency: 101 * time.Millisecond})
	s.Record(levee.Outcome{Result: levee.Failure, Latency: 10 * time.Millisecond})
	s.Record(levee.Outcome{Result: levee.Ignored, Latency: time.Second})
	if c := s.Counts(time.Minute); c.Good != 3 || c.Total != 4 {
		t.Fatalf("Counts(1m) = %+v, want 3 good of 4 (ignored not counted)", c)
	}
}

func TestGoodPredicateAndIgnored(t *testing.T) {
	s, _ := newSLO(t, slo.Config{Good: func(o levee.Outcome) bool { return o.Err == nil || o.Result == levee.Success }})
	s.Record(levee.Outcome{Result: levee.Failure})                        // Err nil: good by the predicate
	s.Record(levee.Outcome{Result: levee.Failure, Err: context.Canceled}) // bad
	s.Record(levee.Outcome{Result: levee.Ignored, Err: context.Canceled}) // not counted
	if c := s.Counts(0); c.Good != 1 || c.Total != 2 {
		t.Fatalf("Counts(0) = %+v, want 1 good of 2", c)
	}
}

func TestGroupRecordsEveryObjective(t *testing.T) {
	clk := clocktest.New(time.Time{})
	fast, _ := slo.New(slo.Config{Name: "p99", Objective: 0.99, Latency: 100 * time.Millisecond, Clock: clk})
	slow, _ := slo.New(slo.Config{Name: "p999", Latency: time.Second, Clock: clk})
	g := slo.NewGroup(fast, nil, slow)
	p := levee.New(g)
	for _, d := range []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, 2 * time.Second} {
		err := p.Run(context.Background(), func(context.Context) error { clk.Advance(d); return nil })
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	}
	g.RecordAt(clk.Now(), levee.Outcome{Result: levee.Success, Latency: 10 * time.Millisecond})
	if c := fast.Counts(0); c.Good != 2 || c.Total != 4 {
		t.Errorf("p99 Counts = %+v, want 2 good of 4", c)
	}
	if c := slow.Counts(0); c.Good != 3 || c.Total != 4 {
		t.Errorf("p999 Counts = %+v, want 3 good of 4", c)
	}
	if len(g.SLOs()) != 2 || g.Stage() != slo.StageSLO {
		t.Errorf("SLOs() = %d, Stage() = %d; want 2 and %d", len(g.SLOs()), g.Stage(), slo.StageSLO)
	}
	empty := slo.NewGroup()
	if err := levee.New(empty).Run(context.Background(), func(context.Context) error { return nil }); err != nil || empty.Stage() != slo.StageSLO {
		t.Errorf("an empty group: Run = %v, Stage() = %d; want nil and %d", err, empty.Stage(), slo.StageSLO)
	}
}

func TestPipelineGateMeasuresLatency(t *testing.T) {
	s, clk := newSLO(t, slo.Config{Latency: 100 * time.Millisecond})
	p := levee.New(s)
	run := func(d time.Duration, err error) {
		_ = p.Run(context.Background(), func(context.Context) error { clk.Advance(d); return err })
	}
	run(50*time.Millisecond, nil)
	run(150*time.Millisecond, nil)
	run(10*time.Millisecond, context.Canceled) // ignored by the default classifier
	if c := s.Counts(0); c.Good != 1 || c.Total != 2 {
		t.Fatalf("Counts(0) = %+v, want 1 good of 2", c)
	}
	// A permit settled with an explicit latency keeps it.
	pm, _ := s.Acquire(context.Background())
	clk.Advance(time.Second)
	pm.Record(levee.Outcome{Result: levee.Success, Latency: time.Millisecond})
	if c := s.Counts(0); c.Good != 2 {
		t.Fatalf("Counts(0).Good = %d, want 2", c.Good)
	}
}

func TestWindowRolloverAcrossDays(t *testing.T) {
	const day = 24 * time.Hour
	s, clk := newSLO(t, slo.Config{})
	record(s, 0, 100) // day 0
	clk.Advance(day)
	record(s, 50, 0) // day 1
	clk.Advance(28*day + 23*time.Hour + 58*time.Minute)
	// 29d23h58m after the first events: still inside 30 days.
	if c := s.Counts(0); c.Total != 150 || c.Bad() != 100 {
		t.Fatalf("Counts(30d) at 29d23h58m = %+v, want 150 events, 100 bad", c)
	}
	if c := s.Counts(day); c.Total != 0 {
		t.Fatalf("Counts(1d) at 29d23h58m = %+v, want none", c)
	}
	clk.Advance(2 * time.Minute) // day 0's bucket leaves the window
	if c := s.Counts(0); c.Total != 50 || c.Bad() != 0 {
		t.Fatalf("Counts(30d) at 30d = %+v, want 50 good", c)
	}
	record(s, 1, 1)
	clk.Advance(day)
	// Day 1 left at 31d; only the events of day 30 remain.
	if c := s.Counts(0); c.Total != 2 {
		t.Fatalf("Counts(30d) at 31d = %+v, want the 2 events of day 30", c)
	}
	clk.Advance(90 * day) // a jump longer than the window clears it all
	if c := s.Counts(0); c.Total != 0 {
		t.Fatalf("Counts(30d) after a 90-day jump = %+v, want none", c)
	}
	record(s, 3, 0)
	if c := s.Counts(time.Minute); c.Total != 3 {
		t.Fatalf("Counts(1m) after the jump = %+v, want 3", c)
	}
	// Totals keep every event counted since the start.
	if c := s.Totals(); c.Total != 155 || c.Bad() != 101 {
		t.Fatalf("Totals() = %+v, want 155 events, 101 bad", c)
	}
}

func TestRecordAtOlderThanWindowIsDropped(t *testing.T) {
	s, clk := newSLO(t, slo.Config{Window: time.Hour, Alerts: []slo.Alert{}})
	clk.Advance(3 * time.Hour)
	now := clk.Now()
	s.RecordAt(now.Add(-2*time.Hour), bad)
	s.RecordAt(now.Add(-30*time.Minute), bad)
	s.RecordAt(now, good)
	s.RecordAt(now, levee.Outcome{Result: levee.Ignored})
	if c := s.Counts(0); c.Total != 2 || c.Bad() != 1 {
		t.Fatalf("Counts(1h) = %+v, want 2 events, 1 bad (the 2h-old one dropped)", c)
	}
	if c := s.Counts(20 * time.Minute); c.Total != 1 {
		t.Fatalf("Counts(20m) = %+v, want 1", c)
	}
}

// TestConstantMemory records ten million events over sixty days and checks
// that the heap does not grow.
func TestConstantMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("records ten million events")
	}
	s, clk := newSLO(t, slo.Config{})
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	record(s, 10, 10) // warm up
	before := heap()
	const events = 10_000_000
	for i := range events {
		if i%116 == 0 {
			clk.Advance(time.Minute)
		}
		if i%1000 == 0 {
			s.Record(bad)
		} else {
			s.Record(good)
		}
	}
	after := heap()
	growth := int64(after) - int64(before)
	t.Logf("heap before %d bytes, after %d events over %v: %d bytes (growth %d)", before, events, clk.Now().Sub(clocktest.Epoch), after, growth)
	if growth > 64<<10 {
		t.Fatalf("heap grew by %d bytes over %d events, want under 64 KiB", growth, events)
	}
	if c := s.Counts(0); c.Total == 0 || c.Total >= events {
		t.Fatalf("Counts(30d) = %+v, want the last 30 days only", c)
	}
	if c := s.Totals(); c.Total != events+20 || c.Bad() != events/1000+10 {
		t.Fatalf("Totals() = %+v, want %d events, %d bad", c, events+20, events/1000+10)
	}
}

// TestMemoryPerSLO measures the heap one default SLO takes.
func TestMemoryPerSLO(t *testing.T) {
	const n = 20
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	keep := make([]*slo.SLO, n)
	for i := range keep {
		keep[i], _ = slo.New(slo.Config{})
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	per := (int64(m1.HeapAlloc) - int64(m0.HeapAlloc)) / n
	t.Logf("heap per default SLO: %d bytes (counters: 43,200 buckets × 8 bytes = 345,600)", per)
	if per < 345600 || per > 400000 {
		t.Errorf("heap per default SLO = %d bytes, want about 345,600", per)
	}
	runtime.KeepAlive(keep)
}

func TestRecordAllocs(t *testing.T) {
	s, err := slo.New(slo.Config{Latency: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	tests := []struct {
		name string
		fn   func()
	}{
		{"Record", func() { s.Record(good) }},
		{"RecordAt", func() { s.RecordAt(now, bad) }},
		{"Acquire+Release", func() {
			p, _ := s.Acquire(ctx)
			p.Record(good)
		}},
		{"Pressure", func() { _ = s.Pressure("page") }},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(1000, tt.fn); got != 0 {
			t.Errorf("AllocsPerRun(%s) = %v, want 0", tt.name, got)
		}
	}
}

func BenchmarkRecord(b *testing.B) {
	s, err := slo.New(slo.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i&1023 == 0 {
			s.Record(bad)
		} else {
			s.Record(good)
		}
	}
}

func BenchmarkRecordParallel(b *testing.B) {
	s, err := slo.New(slo.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Record(good)
		}
	})
}

func BenchmarkGate(b *testing.B) {
	s, err := slo.New(slo.Config{Latency: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, _ := s.Acquire(ctx)
			p.Record(good)
		}
	})
}

func BenchmarkStatus(b *testing.B) {
	s, err := slo.New(slo.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Status()
	}
}

func BenchmarkTotals(b *testing.B) {
	s, err := slo.New(slo.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Totals()
	}
}

func BenchmarkEvaluate(b *testing.B) {
	s, err := slo.New(slo.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Evaluate()
	}
}

// TestConcurrentRecordLosesNothing records from several goroutines while
// time moves into new buckets, and checks that every event was counted.
func TestConcurrentRecordLosesNothing(t *testing.T) {
	s, clk := newSLO(t, slo.Config{})
	const workers, each = 8, 5000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2000 {
			clk.Advance(time.Minute)
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if (i+w)%10 == 0 {
					s.Record(bad)
				} else {
					s.Record(good)
				}
			}
		}()
	}
	wg.Wait()
	<-done
	if c := s.Counts(0); c.Total != workers*each || c.Bad() != workers*each/10 {
		t.Fatalf("Counts(0) = %+v, want %d events, %d bad", c, workers*each, workers*each/10)
	}
}
