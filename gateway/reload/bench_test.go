//go:build unix

package reload_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"testing"

	"github.com/levee-go/levee/gateway/reload"
)

// routesDoc is a configuration of n routes over 10 upstreams, each route
// with a rate limit and a concurrency limit; gen changes every route's
// rate, so that applying it replaces every limiter.
func routesDoc(n, gen int) []byte {
	var b strings.Builder
	b.WriteString("listeners: [{name: public, address: \"127.0.0.1:0\"}]\nreload: {self_check: {period: 0s}}\nupstreams:\n")
	for u := range 10 {
		fmt.Fprintf(&b, "  - {name: u%d, targets: [{url: \"127.0.0.1:%d\"}], breaker: {consecutive_failures: 5}}\n", u, 20000+u)
	}
	b.WriteString("routes:\n")
	for r := range n {
		fmt.Fprintf(&b, "  - {name: r%d, upstream: u%d, match: {path_prefix: /r%d}, policies: {rate_limit: {rate: %d/s}, concurrency: {max: 100}}}\n",
			r, r%10, r, 1000+gen)
	}
	return []byte(b.String())
}

// BenchmarkApply measures one reload of a whole configuration: decode and
// check, build the new runtime beside the running one, warm it (no health
// checks here), and swap it in. Every iteration applies a document that
// differs from the running one.
func BenchmarkApply(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			docs := [2][]byte{routesDoc(n, 0), routesDoc(n, 1)}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			opts := reload.Options{Logger: log}
			opts.Proxy.Logger = log
			c, err := reload.New(nil, docs[0], reload.SourceFile, opts)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := range b.N {
				if _, err := c.Apply(ctx, docs[(i+1)%2], reload.ApplyOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			// On a shared machine the wall time of ns/op includes waiting
			// for a core; the process's CPU time per reload does not.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user and system CPU time, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
