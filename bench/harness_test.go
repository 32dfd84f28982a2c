package bench

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/zeromicro/go-zero/core/logx"
)

// errBench is the failure every benchmark reports when it needs one.
var errBench = errors.New("bench: failure")

var nameSeq atomic.Int64

// uniqueName returns a fresh name for peers that keep their breakers or rules
// in process-wide registries (hystrix-go), so that each b.Run round starts
// from a new, closed breaker.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, nameSeq.Add(1))
}

// rejections counts how often a benchmark that measures a rejection path was
// let through instead, so that a mis-configured peer cannot pass for a fast one.
type rejections struct{ passed atomic.Int64 }

// check fails b when more than 1% of b.N calls were admitted.
func (r *rejections) check(b *testing.B) {
	b.Helper()
	if p := r.passed.Load(); p*100 > int64(b.N) && p > 1 {
		b.Fatalf("%d of %d calls were admitted, want (almost) all rejected", p, b.N)
	}
}

func init() {
	// go-zero logs an alert the first time its breaker drops a call (then at
	// most once per 5 minutes); keep it out of the benchmark output, which
	// benchstat parses. The message is still built on every drop.
	logx.Disable()
}
