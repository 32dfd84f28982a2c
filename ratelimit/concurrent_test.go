package ratelimit_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/levee-go/levee/ratelimit"
)

// admitConcurrently calls allow from 8 goroutines, 500 times each, at one
// instant, and returns how many calls were admitted.
func admitConcurrently(allow func() bool) int64 {
	var n atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				if allow() {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return n.Load()
}

// TestConcurrentExactness: at a fixed instant, however the CAS loops
// interleave, exactly the quota is admitted, never more.
func TestConcurrentExactness(t *testing.T) {
	g := mustGCRA(t, ratelimit.Config{Rate: ratelimit.PerSecond(10), Burst: 1000})
	tb := mustBucket(t, ratelimit.Config{Rate: ratelimit.PerSecond(10), Burst: 1000})
	w := mustWindow(t, ratelimit.WindowConfig{Rate: ratelimit.PerSecond(1000)})
	k := mustKeyed(t, ratelimit.KeyedConfig{Rate: ratelimit.PerSecond(10), Burst: 1000})
	tests := []struct {
		name  string
		allow func() bool
	}{
		{"GCRA", func() bool { return g.AllowAt(0) }},
		{"TokenBucket", func() bool { return tb.AllowAt(0) }},
		{"SlidingWindow", func() bool { return w.AllowAt(0) }},
		{"Keyed", func() bool { return k.DecideKeyAt("one", 0).Allowed }},
	}
	for _, tt := range tests {
		if got := admitConcurrently(tt.allow); got != 1000 {
			t.Errorf("%s: admitted %d of 4000 concurrent calls, want exactly 1000", tt.name, got)
		}
	}
}
