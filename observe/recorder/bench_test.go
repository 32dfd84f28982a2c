package recorder_test

import (
	"context"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/observe/recorder"
)

// The listener costs no allocation for the events that pass it by and for
// triggers refused by the rate limit, so attaching it to hot policies is
// free but for the flight recorder itself.
func TestListenerAllocations(t *testing.T) {
	r, _, got := newRecorder(t, recorder.Config{Interval: time.Hour})
	l := r.Listener()
	rejected := levee.Event{Kind: levee.EventRejected, Policy: "breaker", From: "open", Reason: "open"}
	if n := testing.AllocsPerRun(1000, func() { l(rejected) }); n != 0 {
		t.Errorf("a non-triggering event: %v allocs, want 0", n)
	}
	l(trip)
	<-got
	if n := testing.AllocsPerRun(1000, func() { l(trip) }); n != 0 {
		t.Errorf("a rate-limited trigger: %v allocs, want 0", n)
	}
}

func newBenchPipeline(b *testing.B) *levee.Pipeline {
	br, err := breaker.New(breaker.Config{Name: "db"})
	if err != nil {
		b.Fatal(err)
	}
	return levee.New(br)
}

// runPipeline calls p b.N times and returns the time per call of the
// run, which the benchmark framework's last (longest) run overwrites.
func runPipeline(b *testing.B, p *levee.Pipeline, parallel bool) float64 {
	call := func(context.Context) error { return nil }
	b.ReportAllocs()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = p.Run(context.Background(), call)
			}
		})
	} else {
		for b.Loop() {
			_ = p.Run(context.Background(), call)
		}
	}
	return float64(b.Elapsed().Nanoseconds()) / float64(max(b.N, 1))
}

// BenchmarkRecorderOverhead runs a breaker pipeline without a recorder
// ("off") and then with one ("on": flight recorder running, listener
// attached) in the same run; "on" also reports the ratio of the two times
// per call ("on/off"; 1.03 is a 3% cost).
func BenchmarkRecorderOverhead(b *testing.B) {
	for _, mode := range []string{"serial", "parallel"} {
		parallel := mode == "parallel"
		b.Run(mode, func(b *testing.B) {
			p := newBenchPipeline(b)
			var offNs float64
			b.Run("off", func(b *testing.B) { offNs = runPipeline(b, p, parallel) })
			b.Run("on", func(b *testing.B) {
				rec, err := recorder.New(recorder.Config{Dir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				remove := p.OnEvent(rec.Listener())
				onNs := runPipeline(b, p, parallel)
				remove()
				_ = rec.Close()
				if offNs > 0 {
					b.ReportMetric(onNs/offNs, "on/off")
				}
			})
		})
	}
}
