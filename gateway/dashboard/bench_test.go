package dashboard_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/gateway/dashboard"
)

// BenchmarkStream measures what one second of the dashboard costs with one
// viewer, over a real gateway with traffic: "update" is one whole update
// (the source read, the caps, the encoding, the write to the stream and
// the viewer reading it over loopback); "snapshot" is the source's read
// alone. One update is sent per second, so ns/op is the CPU time a viewer
// costs per second of wall time: 1 ms/op would be 0.1% of one core.
func BenchmarkStream(b *testing.B) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	g := newTestGateway(b, clk)
	g.send(b, 50)
	g.failing.Store(true)
	g.send(b, 100) // a trip, refusals and an SLO burning: every view filled

	b.Run("update", func(b *testing.B) {
		d, err := dashboard.New(dashboard.Options{Source: g.source, Clock: clk})
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		srv := httptest.NewServer(d.Events())
		defer srv.Close()
		r, stop := stream(b, srv.URL)
		defer stop()
		readEvent(b, r)
		var bytes int
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			clk.BlockUntil(1)
			clk.Advance(time.Second)
			bytes = len(readEvent(b, r).data)
		}
		b.ReportMetric(float64(bytes), "bytes/update")
	})
	b.Run("snapshot", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			clk.Advance(time.Second)
			g.source.Snapshot(clk.Now())
		}
	})
}
