package redislimit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee/redislimit"
)

// TestConcurrentDecisionsShareRoundTrips has 64 callers spend one key's
// burst at a fixed instant through a limiter with one round trip in
// flight: the decisions queue and go in pipelines, yet Redis admits exactly
// the burst, every decision is answered by Redis, and each is sent once.
func TestConcurrentDecisionsShareRoundTrips(t *testing.T) {
	c := requireRedis(t)
	h := &countHook{}
	c.AddHook(h)
	const burst, callers, each = 100, 64, 5
	l, err := redislimit.New(redislimit.Config{Client: c, Limit: burst, Period: time.Hour,
		Prefix: testPrefix(t, c), MaxInFlight: 1, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	redislimit.SetNowForTest(l, func() time.Duration { return time.Hour })
	ctx := context.Background()
	if _, err := redislimit.DecideForTest(l, ctx, "warm"); err != nil { // loads the script
		t.Fatal(err)
	}
	before, beforeSha := h.cmds.Load(), h.count("evalsha")+h.count("piped evalsha")
	var admitted, refused atomic.Int64
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for range each {
				d, err := redislimit.DecideForTest(l, ctx, "k")
				if err != nil || d.Source != redislimit.SourceRedis {
					t.Errorf("AllowKey = %+v, %v; want a decision by Redis", d, err)
					return
				}
				if d.Allowed {
					admitted.Add(1)
				} else {
					refused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	const decisions = callers * each
	if a, r := admitted.Load(), refused.Load(); a != burst || a+r != decisions {
		t.Errorf("admitted %d, refused %d; want %d and %d", a, r, burst, decisions-burst)
	}
	sent := h.count("evalsha") + h.count("piped evalsha") - beforeSha
	if sent != decisions {
		t.Errorf("%d script runs sent for %d decisions, want one each", sent, decisions)
	}
	trips := h.cmds.Load() - before
	if trips >= decisions {
		t.Errorf("%d round trips for %d concurrent decisions, want fewer (batched)", trips, decisions)
	}
	t.Logf("%d decisions in %d round trips", decisions, trips)
}

// TestBatchReloadsLostScript sends a pipeline to a Redis that has lost the
// script (as after a restart): every decision is still answered, and the
// script is loaded again. It uses a Redis of its own, since it flushes the
// script cache.
func TestBatchReloadsLostScript(t *testing.T) {
	srv := startRedisServer(t, freePort(t))
	c := newClient(t, srv.addr())
	l, err := redislimit.New(redislimit.Config{Client: c, Limit: 10, Period: time.Hour, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	keys := []string{"a", "b", "a", "c"}
	for round, flush := range []bool{true, false} {
		if flush {
			if err := c.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
		res, errs := redislimit.BatchForTest(ctx, l, keys, 1, 1)
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, decision %d (%s): %v", round, i, keys[i], err)
			}
		}
		// "a" twice per round, "b" and "c" once: remaining counts down from 9.
		want := map[int]int64{0: 9 - 2*int64(round), 1: 9 - int64(round), 2: 8 - 2*int64(round), 3: 9 - int64(round)}
		for i, r := range res {
			if r.Granted != 1 || r.Remaining != want[i] {
				t.Errorf("round %d, decision %d (%s) = %+v; want granted 1, remaining %d", round, i, keys[i], r, want[i])
			}
		}
	}
}

// TestQueuedDecisionHonoursContext holds the one round trip in flight
// behind a slow proxy: a decision queued behind it returns its context's
// error when its deadline passes, not when the round trip ends, and the
// limiter goes on deciding afterwards.
func TestQueuedDecisionHonoursContext(t *testing.T) {
	c := requireRedis(t)
	prefix := testPrefix(t, c)
	proxy := startProxy(t, mainRedis)
	pc := newClient(t, proxy.addr())
	l, err := redislimit.New(redislimit.Config{Client: pc, Limit: 1000, Prefix: prefix,
		MaxInFlight: 1, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	if _, err := redislimit.DecideForTest(l, bg, "k"); err != nil { // loads the script, opens the connection
		t.Fatal(err)
	}
	const slow = 300 * time.Millisecond
	proxy.setDelay(slow)
	first := make(chan error, 1)
	go func() {
		d, err := redislimit.DecideForTest(l, bg, "k")
		if err == nil && d.Source != redislimit.SourceRedis {
			err = errors.New("answered by " + d.Source.String())
		}
		first <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it go out
	ctx, cancel := context.WithTimeout(bg, 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = redislimit.DecideForTest(l, ctx, "k")
	if took := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || took > slow/2 {
		t.Fatalf("queued AllowKey = %v after %v; want context.DeadlineExceeded after about 30ms", err, took)
	}
	if err := <-first; err != nil {
		t.Fatalf("the decision in flight: %v", err)
	}
	proxy.setDelay(0)
	if d, err := redislimit.DecideForTest(l, bg, "k"); err != nil || !d.Allowed || d.Source != redislimit.SourceRedis {
		t.Fatalf("AllowKey afterwards = %+v, %v; want allowed by Redis", d, err)
	}
}

// TestBatchesFallBackTogether stops Redis under 32 concurrent callers: every
// decision, queued or sent, is answered by the fallback within the timeout,
// and none is lost or stuck.
func TestBatchesFallBackTogether(t *testing.T) {
	srv := startRedisServer(t, freePort(t))
	c := newClient(t, srv.addr())
	const timeout = 100 * time.Millisecond
	l, err := redislimit.New(redislimit.Config{Client: c, Limit: 1000, Timeout: timeout,
		MaxInFlight: 1, Fallback: redislimit.FailOpen})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := redislimit.DecideForTest(l, ctx, "k"); err != nil {
		t.Fatal(err)
	}
	srv.stop()
	var wg sync.WaitGroup
	var fallback atomic.Int64
	start := time.Now()
	for range 32 {
		wg.Go(func() {
			for range 4 {
				d, err := redislimit.DecideForTest(l, ctx, "k")
				if err != nil || !d.Allowed {
					t.Errorf("AllowKey with Redis stopped = %+v, %v; want allowed (fail open)", d, err)
					return
				}
				if d.Source == redislimit.SourceFallback {
					fallback.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := fallback.Load(); n != 128 {
		t.Errorf("%d of 128 decisions answered by the fallback, want all", n)
	}
	// At most a few round trips can be in flight or queued when Redis goes:
	// each is bounded by the timeout, then the breaker answers locally.
	if took := time.Since(start); took > 10*timeout {
		t.Errorf("128 decisions with Redis stopped took %v, want well under %v", took, 10*timeout)
	}
}
