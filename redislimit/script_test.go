package redislimit_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/levee-go/levee/redislimit"
	"github.com/levee-go/levee/redislimit/internal/gcra"
)

// TestScriptMatchesReference runs the Lua script in Redis and the Go
// reference side by side on the same sequence of fixed instants and asks,
// and expects the very same answers.
func TestScriptMatchesReference(t *testing.T) {
	c := requireRedis(t)
	prefix := testPrefix(t, c)
	tests := []struct {
		name   string
		limit  int
		period time.Duration
		burst  int
	}{
		{"10 per second burst 3", 10, time.Second, 3},
		{"3 per second fractional interval", 3, time.Second, 2},
		{"1000 per minute burst 50", 1000, time.Minute, 50},
		{"7 per 100ms burst 1", 7, 100 * time.Millisecond, 1},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := redislimit.New(redislimit.Config{Client: c, Limit: tt.limit, Period: tt.period,
				Burst: tt.burst, Prefix: prefix + tt.name + ":", Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			now := 1_700_000_000 * time.Second
			redislimit.SetNowForTest(l, func() time.Duration { return now })
			p := gcra.Params{Interval: redislimit.IntervalForTest(l), Burst: float64(tt.burst)}
			rng := rand.New(rand.NewPCG(1, uint64(tt.limit)))
			var tat float64
			for i := range 400 {
				// Steps from nothing to two intervals, in whole and odd microseconds.
				now += time.Duration(rng.Int64N(int64(2*p.Interval)+1)) * time.Microsecond
				want := 1 + rng.Int64N(int64(tt.burst))
				least := 1 + rng.Int64N(want)
				got, err := redislimit.RunScriptForTest(ctx, l, "k", want, least)
				if err != nil {
					t.Fatalf("step %d: script: %v", i, err)
				}
				ref := gcra.Decide(p, tat, float64(now/time.Microsecond), want, least)
				if ref.Granted > 0 {
					tat = ref.TAT
				}
				wantRes := redislimit.ScriptResult{Granted: ref.Granted, Remaining: ref.Remaining,
					RetryAfter: time.Duration(ref.RetryAfter) * time.Microsecond,
					ResetAfter: time.Duration(ref.ResetAfter) * time.Microsecond}
				if got != wantRes {
					t.Fatalf("step %d: script(now=%v, want=%d, min=%d) = %+v, want %+v", i, now, want, least, got, wantRes)
				}
			}
		})
	}
}

// TestScriptLoadedOnce checks that the steady state is one EVALSHA per
// decision, and that a Redis that lost its scripts gets it again at once.
// It uses a Redis of its own, since it flushes the script cache.
func TestScriptLoadedOnce(t *testing.T) {
	srv := startRedisServer(t, freePort(t))
	c := newClient(t, srv.addr())
	h := &countHook{}
	c.AddHook(h)
	l, err := redislimit.New(redislimit.Config{Client: c, Limit: 1000, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	allow := func() {
		t.Helper()
		d, err := redislimit.DecideForTest(l, ctx, "k")
		if err != nil || !d.Allowed || d.Source != redislimit.SourceRedis {
			t.Fatalf("AllowKey = %+v, %v; want allowed by redis", d, err)
		}
	}
	allow()
	if e, s := h.count("eval"), h.count("evalsha"); e != 1 || s != 1 {
		t.Fatalf("first decision: eval %d, evalsha %d; want 1 and 1", e, s)
	}
	before := h.cmds.Load()
	for range 20 {
		allow()
	}
	if got := h.cmds.Load() - before; got != 20 {
		t.Fatalf("20 decisions sent %d commands, want 20", got)
	}
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	allow()
	allow()
	if e, s := h.count("eval"), h.count("evalsha"); e != 2 || s != 23 {
		t.Fatalf("after SCRIPT FLUSH: eval %d, evalsha %d; want 2 and 23", e, s)
	}
}
