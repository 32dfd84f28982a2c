package bench

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/slo"
)

// BenchmarkSLORecord measures recording one call's outcome into an SLO with
// the default configuration (99.9% availability over 30 days in one-minute
// buckets). No peer library keeps SLO budgets in process, so the only
// comparison is bare: two atomic adds (good and total), the least any
// in-process counter can do.
func BenchmarkSLORecord(b *testing.B) {
	runImpls(b, []impl{
		{"levee", func(b *testing.B) {
			s := newBenchSLO(b)
			o := levee.Outcome{Result: levee.Success, Latency: time.Millisecond}
			for b.Loop() {
				s.Record(o)
			}
		}},
		{"levee/started", func(b *testing.B) {
			// A started SLO (alert schedule running) keeps its current
			// bucket on a timer, so Record skips the clock read.
			s := newBenchSLO(b)
			s.Start()
			defer s.Stop()
			o := levee.Outcome{Result: levee.Success, Latency: time.Millisecond}
			for b.Loop() {
				s.Record(o)
			}
		}},
		{"bare", func(b *testing.B) {
			var good, total atomic.Int64
			for b.Loop() {
				good.Add(1)
				total.Add(1)
			}
		}},
	})
}

// BenchmarkSLORecordParallel: SLORecord from GOMAXPROCS goroutines sharing
// one SLO.
func BenchmarkSLORecordParallel(b *testing.B) {
	runImpls(b, []impl{
		{"levee", func(b *testing.B) {
			s := newBenchSLO(b)
			o := levee.Outcome{Result: levee.Success, Latency: time.Millisecond}
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					s.Record(o)
				}
			})
		}},
		{"levee/started", func(b *testing.B) {
			s := newBenchSLO(b)
			s.Start()
			defer s.Stop()
			o := levee.Outcome{Result: levee.Success, Latency: time.Millisecond}
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					s.Record(o)
				}
			})
		}},
		{"bare", func(b *testing.B) {
			var good, total atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					good.Add(1)
					total.Add(1)
				}
			})
		}},
	})
}

func newBenchSLO(b *testing.B) *slo.SLO {
	s, err := slo.New(slo.Config{})
	if err != nil {
		b.Fatal(err)
	}
	return s
}
