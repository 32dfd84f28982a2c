package slo_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/slo"
)

func TestGateConfigValidation(t *testing.T) {
	s, _ := newSLO(t, slo.Config{})
	tests := []struct {
		name string
		cfg  slo.GateConfig
		want string
	}{
		{"no SLOs", slo.GateConfig{SLOs: []*slo.SLO{nil}}, "SLOs is empty"},
		{"negative", slo.GateConfig{SLOs: []*slo.SLO{s}, MinRemaining: -0.1}, "MinRemaining -0.1"},
		{"one", slo.GateConfig{SLOs: []*slo.SLO{s}, MinRemaining: 1}, "MinRemaining 1"},
		{"ok", slo.GateConfig{SLOs: []*slo.SLO{s}, MinRemaining: 0.5}, ""},
	}
	for _, tt := range tests {
		_, err := slo.NewGate(tt.cfg)
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: NewGate = %v, want error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestGate(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name    string
		cfg     slo.GateConfig
		traffic func(s *slo.SLO, clk *clocktest.Fake)
		allowed bool
		reason  string
	}{
		{"fresh", slo.GateConfig{}, func(*slo.SLO, *clocktest.Fake) {}, true, ""},
		{"healthy", slo.GateConfig{}, func(s *slo.SLO, clk *clocktest.Fake) {
			for range 24 {
				record(s, 1000, 0)
				clk.Advance(time.Hour)
			}
		}, true, ""},
		{"budget spent", slo.GateConfig{Block: []string{}}, func(s *slo.SLO, clk *clocktest.Fake) {
			// 0.5% errors for 10 days: burn 5 over a third of the window.
			for range 10 * 24 {
				record(s, 995, 5)
				clk.Advance(time.Hour)
			}
		}, false, "-66.67% of the error budget remains"},
		{"below the minimum", slo.GateConfig{MinRemaining: 0.61, Block: []string{}}, func(s *slo.SLO, clk *clocktest.Fake) {
			// burn 2 for 6 days: 2 × 6/30 = 40% spent, 60% left.
			for range 6 * 24 {
				record(s, 998, 2)
				clk.Advance(time.Hour)
			}
		}, false, "60% of the error budget remains, need more than 61%"},
		{"above the minimum", slo.GateConfig{MinRemaining: 0.5}, func(s *slo.SLO, clk *clocktest.Fake) {
			for range 6 * 24 {
				record(s, 998, 2)
				clk.Advance(time.Hour)
			}
		}, true, ""},
		{"page firing with budget left", slo.GateConfig{}, func(s *slo.SLO, clk *clocktest.Fake) {
			for range 2 * day / time.Minute {
				record(s, 100, 0)
				clk.Advance(time.Minute)
			}
			for range 60 {
				record(s, 80, 20)
				clk.Advance(time.Minute)
			}
		}, false, `slo "checkout": page alert firing`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newSLO(t, slo.Config{Name: "checkout"})
			tt.traffic(s, clk)
			tt.cfg.SLOs = []*slo.SLO{s}
			g, err := slo.NewGate(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			v := g.Check()
			if v.Allowed != tt.allowed || len(v.SLOs) != 1 {
				t.Fatalf("Check() = %+v, want Allowed %v", v, tt.allowed)
			}
			if tt.allowed {
				if v.Err() != nil {
					t.Fatalf("Check().Err() = %v, want nil", v.Err())
				}
				return
			}
			err = v.Err()
			if !errors.Is(err, slo.ErrNoBudget) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("Check().Err() = %v, want ErrNoBudget with %q", err, tt.reason)
			}
		})
	}
}

func TestSelfCheck(t *testing.T) {
	tests := []struct {
		name         string
		before       [2]int // good, bad recorded in the same bucket just before the check
		during       [2]int // per minute, for five minutes
		pass         bool
		inconclusive bool
		burn         float64
	}{
		{"healthy", [2]int{100, 0}, [2]int{100, 0}, true, false, 0},
		{"errors before the change do not count", [2]int{0, 500}, [2]int{100, 0}, true, false, 0},
		{"burn at the limit passes", [2]int{}, [2]int{9856, 144}, true, false, 14.4},
		{"burn above the limit fails", [2]int{}, [2]int{98, 2}, false, false, 20},
		{"too few events is inconclusive", [2]int{}, [2]int{0, 3}, true, true, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newSLO(t, slo.Config{Name: "api"})
			clk.Advance(30 * time.Second) // mid-bucket
			record(s, tt.before[0], tt.before[1])
			c, err := slo.NewSelfCheck(slo.SelfCheckConfig{SLOs: []*slo.SLO{s}})
			if err != nil {
				t.Fatal(err)
			}
			for range 5 {
				record(s, tt.during[0], tt.during[1])
				if r := c.Result(); r.Done {
					t.Fatalf("Result().Done before the period = true")
				}
				clk.Advance(time.Minute)
			}
			r := c.Result()
			if !r.Done || r.Elapsed != 5*time.Minute || r.Pass != tt.pass || len(r.SLOs) != 1 {
				t.Fatalf("Result() = %+v, want Done after 5m, Pass %v", r, tt.pass)
			}
			f := r.SLOs[0]
			wantTotal := uint64(5 * (tt.during[0] + tt.during[1]))
			if f.Name != "api" || f.Counts.Total != wantTotal || f.Inconclusive != tt.inconclusive || !near(f.BurnRate, tt.burn, 1e-9) {
				t.Fatalf("Result().SLOs[0] = %+v, want %d events, burn %v, inconclusive %v", f, wantTotal, tt.burn, tt.inconclusive)
			}
			if err := r.Err(); (err == nil) != tt.pass || (err != nil && !errors.Is(err, slo.ErrNoBudget)) {
				t.Fatalf("Result().Err() = %v, want nil: %v", err, tt.pass)
			}
		})
	}
}

func TestSelfCheckRegression(t *testing.T) {
	tests := []struct {
		name      string
		before    [2]int // good, bad per minute for the five minutes before
		during    [2]int // per minute, for five minutes
		regressed bool
	}{
		{"five times the errors of before fails", [2]int{999, 1}, [2]int{995, 5}, true},
		{"less than twice those of before passes", [2]int{997, 3}, [2]int{995, 5}, false},
		{"within the objective passes however it grew", [2]int{1000, 0}, [2]int{1999, 1}, false},
		{"no time before to compare with passes", [2]int{}, [2]int{995, 5}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newSLO(t, slo.Config{Name: "api"})
			for range 5 {
				clk.Advance(time.Minute)
				record(s, tt.before[0], tt.before[1])
			}
			c, err := slo.NewSelfCheck(slo.SelfCheckConfig{SLOs: []*slo.SLO{s}, MaxRegression: 2})
			if err != nil {
				t.Fatal(err)
			}
			for range 5 {
				clk.Advance(time.Minute)
				record(s, tt.during[0], tt.during[1])
			}
			r := c.Result()
			f := r.SLOs[0]
			if f.Regressed != tt.regressed || r.Pass == tt.regressed || f.BurnRate > f.MaxBurnRate {
				t.Fatalf("Result() = %+v, want Regressed %v", r, tt.regressed)
			}
			if want := uint64(5 * (tt.before[0] + tt.before[1])); f.Before.Total != want {
				t.Fatalf("Before = %+v, want %d events", f.Before, want)
			}
			if tt.regressed && !strings.Contains(r.Err().Error(), "before") {
				t.Fatalf("Err() = %v, want it to name the error ratio before", r.Err())
			}
		})
	}
}

func TestSelfCheckWait(t *testing.T) {
	s, clk := newSLO(t, slo.Config{})
	c, err := slo.NewSelfCheck(slo.SelfCheckConfig{SLOs: []*slo.SLO{s}, Period: time.Minute, MinEvents: -1})
	if err != nil {
		t.Fatal(err)
	}
	record(s, 0, 1)
	done := make(chan slo.CheckResult)
	go func() {
		r, err := c.Wait(context.Background())
		if err != nil {
			t.Errorf("Wait = %v", err)
		}
		done <- r
	}()
	clk.BlockUntil(1)
	clk.Advance(time.Minute)
	r := <-done
	if !r.Done || r.Pass || r.SLOs[0].Counts.Total != 1 {
		t.Fatalf("Wait() = %+v, want a failed, finished check of 1 event", r)
	}

	ctx, cancel := context.WithCancel(context.Background())
	c2, _ := slo.NewSelfCheck(slo.SelfCheckConfig{SLOs: []*slo.SLO{s}})
	go func() { clk.BlockUntil(1); cancel() }()
	if r, err := c2.Wait(ctx); !errors.Is(err, context.Canceled) || r.Done {
		t.Fatalf("Wait(cancelled) = %+v, %v; want a provisional result and context.Canceled", r, err)
	}
}

func TestSelfCheckValidation(t *testing.T) {
	s, _ := newSLO(t, slo.Config{})
	for _, cfg := range []slo.SelfCheckConfig{
		{},
		{SLOs: []*slo.SLO{s}, Period: -time.Second},
		{SLOs: []*slo.SLO{s}, MaxBurnRate: -1},
		{SLOs: []*slo.SLO{s}, MaxRegression: 0.5},
	} {
		if _, err := slo.NewSelfCheck(cfg); err == nil {
			t.Errorf("NewSelfCheck(%+v) = nil error, want one", cfg)
		}
	}
}

func TestTightener(t *testing.T) {
	clk := clocktest.New(time.Time{})
	a, _ := slo.New(slo.Config{Name: "a", Clock: clk, MinEvents: -1})
	b, _ := slo.New(slo.Config{Name: "b", Clock: clk, MinEvents: -1})
	var starts, stops atomic.Int32
	tg, err := slo.NewTightener(slo.TightenerConfig{
		SLOs:    []*slo.SLO{a, b},
		OnStart: func() { starts.Add(1) },
		OnStop:  func() { stops.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string, active bool, st, sp int32, pressure float64) {
		t.Helper()
		if tg.Active() != active || starts.Load() != st || stops.Load() != sp || !near(tg.Pressure(), pressure, 1e-9) {
			t.Fatalf("%s: Active %v, starts %d, stops %d, Pressure %v; want %v, %d, %d, %v",
				when, tg.Active(), starts.Load(), stops.Load(), tg.Pressure(), active, st, sp, pressure)
		}
	}
	check("start", false, 0, 0, 0)

	record(a, 993, 7) // burn 7: half of 14.4 is 7.2, and 7 > 6 on the 6h/30m line
	a.Evaluate()
	check("a at 7×", true, 1, 0, 1)

	record(b, 0, 100)
	b.Evaluate()
	check("b fires too", true, 1, 0, 1)

	clk.Advance(31 * time.Minute) // the short windows empty
	a.Evaluate()
	check("a stops, b still firing", true, 1, 0, 1)
	b.Evaluate()
	check("both stopped", false, 1, 1, 0)

	record(a, 1000-5, 5) // burn 5: under every page line
	a.Evaluate()
	check("a at 5×", false, 1, 1, 5/6.0)
	if got := testing.AllocsPerRun(1000, func() { _ = tg.Pressure() }); got != 0 {
		t.Errorf("AllocsPerRun(Pressure) = %v, want 0", got)
	}

	tg.Close()
	record(a, 0, 1000)
	a.Evaluate()
	if starts.Load() != 1 {
		t.Fatalf("OnStart called after Close")
	}

	if _, err := slo.NewTightener(slo.TightenerConfig{SLOs: []*slo.SLO{a}, Severity: "sms"}); err == nil || !strings.Contains(err.Error(), `"sms"`) {
		t.Fatalf("NewTightener(unknown severity) = %v, want an error naming it", err)
	}
	if _, err := slo.NewTightener(slo.TightenerConfig{}); err == nil {
		t.Fatalf("NewTightener(no SLOs) = nil error, want one")
	}
}
