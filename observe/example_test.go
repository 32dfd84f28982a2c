package observe_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/observe"
)

// A pipeline whose calls are timed and counted, and whose policies' events
// become metrics and log lines.
func ExampleMetrics() {
	reg := prometheus.NewRegistry()
	m, err := observe.NewMetrics(reg, observe.MetricsOptions{})
	if err != nil {
		panic(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	listen := func(e levee.Event) {
		m.Listener()(e)
		observe.Slog(logger, observe.SlogOptions{})(e)
	}
	p := levee.New(m.Requests("inventory", nil))
	_ = p.Run(context.Background(), func(context.Context) error { return nil })

	// A breaker would call this when it opens.
	listen(levee.Event{Kind: levee.EventStateChange, Policy: "breaker", Name: "inventory", From: "closed", To: "open", Reason: "consecutive_failures"})

	n, _ := testutil.GatherAndCount(reg, "levee_requests_total", "levee_policy_state")
	fmt.Println("series:", n)
	// Output:
	// level=INFO msg="levee: state change" policy=breaker name=inventory from=closed to=open reason=consecutive_failures
	// series: 5
}

func BenchmarkRequestsGate(b *testing.B) {
	m, _ := observe.NewMetrics(prometheus.NewRegistry(), observe.MetricsOptions{})
	g := m.Requests("bench", nil)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, _ := g.Acquire(ctx)
			p.Done(nil)
		}
	})
}

func BenchmarkListenerRejection(b *testing.B) {
	m, _ := observe.NewMetrics(prometheus.NewRegistry(), observe.MetricsOptions{})
	l := m.Listener()
	e := levee.Event{Kind: levee.EventRejected, Policy: "breaker", Name: "db", Err: levee.ErrOpen}
	b.ReportAllocs()
	for b.Loop() {
		l(e)
	}
}
