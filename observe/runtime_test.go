package observe_test

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/observe"
	"github.com/levee-go/levee/slo"
)

// schedule makes the runtime schedule goroutines, so that the scheduling
// latency distribution records events.
func schedule() {
	var wg sync.WaitGroup
	for range 4 * runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()
}

func TestRuntimeSLIRecordsOneOutcomePerInterval(t *testing.T) {
	for _, tt := range []struct {
		name      string
		threshold time.Duration
		wantGood  bool
	}{
		{"generous threshold is good", time.Hour, true},
		{"impossible threshold is bad", time.Nanosecond, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Unix(1_700_000_000, 0))
			s, err := slo.New(slo.Config{Name: "sched", Objective: 0.99, Latency: tt.threshold, Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			sli, err := observe.NewRuntimeSLI(observe.RuntimeSLIConfig{SLO: s, Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			sli.Start()
			defer sli.Stop()
			for i := range 3 {
				schedule()
				clk.Advance(observe.DefaultRuntimeInterval)
				c := s.Totals()
				if got := c.Total; got != uint64(i+1) {
					t.Fatalf("after %d intervals the SLO counted %d events, want %d", i+1, got, i+1)
				}
			}
			c := s.Totals()
			if tt.wantGood && c.Bad() != 0 || !tt.wantGood && c.Good != 0 {
				t.Errorf("Totals() = %+v with threshold %v and last p99 %v; want all %s", c, tt.threshold, sli.Last(), map[bool]string{true: "good", false: "bad"}[tt.wantGood])
			}
			if sli.Last() <= 0 {
				t.Errorf("Last() = %v, want a positive scheduling latency", sli.Last())
			}
			sli.Stop()
			clk.Advance(10 * observe.DefaultRuntimeInterval)
			if got := s.Totals(); got != c {
				t.Errorf("after Stop the SLO went on counting: %+v, want %+v", got, c)
			}
		})
	}
}

func TestRuntimeSLIRefusesBadConfig(t *testing.T) {
	latency, _ := slo.New(slo.Config{Name: "sched", Objective: 0.99, Latency: time.Millisecond})
	plain, _ := slo.New(slo.Config{Name: "plain", Objective: 0.99})
	for _, tt := range []struct {
		name string
		cfg  observe.RuntimeSLIConfig
		want string
	}{
		{"no SLO", observe.RuntimeSLIConfig{}, "SLO is nil"},
		{"not a latency SLO", observe.RuntimeSLIConfig{SLO: plain}, "latency SLO"},
		{"quantile above 1", observe.RuntimeSLIConfig{SLO: latency, Quantile: 1.5}, "Quantile"},
		{"negative interval", observe.RuntimeSLIConfig{SLO: latency, Interval: -time.Second}, "Interval"},
		{"not a distribution", observe.RuntimeSLIConfig{SLO: latency, Metric: "/sched/goroutines:goroutines"}, "not a runtime/metrics distribution"},
		{"unknown metric", observe.RuntimeSLIConfig{SLO: latency, Metric: "/no/such:seconds"}, "not a runtime/metrics distribution"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := observe.NewRuntimeSLI(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewRuntimeSLI(%s) = %v, want an error mentioning %q", tt.name, err, tt.want)
			}
		})
	}
}

func TestRuntimeSLIWatchesGCPauses(t *testing.T) {
	s, _ := slo.New(slo.Config{Name: "gc", Objective: 0.99, Latency: time.Hour})
	sli, err := observe.NewRuntimeSLI(observe.RuntimeSLIConfig{SLO: s, Metric: observe.GCPauses})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	if _, ok := sli.Sample(); !ok {
		t.Fatal("Sample() after runtime.GC() saw no GC pause")
	}
	if c := s.Totals(); c.Good != 1 || c.Bad() != 0 {
		t.Errorf("Totals() = %+v, want one good interval", c)
	}
}

func TestRuntimeCollectorExportsTheRuntimeDistributions(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(observe.RuntimeCollector())
	for _, name := range []string{"go_sched_latencies_seconds", "go_sched_pauses_total_gc_seconds", "go_gc_heap_goal_bytes", "go_goroutines"} {
		n, err := testutil.GatherAndCount(reg, name)
		if err != nil || n == 0 {
			t.Errorf("GatherAndCount(%s) = %d, %v; want the series exported", name, n, err)
		}
	}
}

func BenchmarkRuntimeSLISample(b *testing.B) {
	s, _ := slo.New(slo.Config{Name: "sched", Objective: 0.99, Latency: time.Millisecond})
	sli, err := observe.NewRuntimeSLI(observe.RuntimeSLIConfig{SLO: s})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sli.Sample()
	}
}
