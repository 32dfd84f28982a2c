package redislimit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/redislimit"
)

// eventLog collects events from any goroutine.
type eventLog struct {
	mu     sync.Mutex
	events []levee.Event
}

func (e *eventLog) add(ev levee.Event) {
	e.mu.Lock()
	e.events = append(e.events, ev)
	e.mu.Unlock()
}

// has reports whether an event of kind with reason was seen.
func (e *eventLog) has(kind levee.EventKind, reason string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.events {
		if ev.Kind == kind && ev.Reason == reason {
			return true
		}
	}
	return false
}

// changes returns the state changes as "from>to".
func (e *eventLog) changes() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.events {
		if ev.Kind == levee.EventStateChange {
			out = append(out, ev.From+">"+ev.To)
		}
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitForRedis calls AllowKey until Redis decides again, or fails after d.
func waitForRedis(t *testing.T, l *redislimit.Limiter, key string, d time.Duration) redislimit.Decided {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		dec, err := redislimit.DecideForTest(l, context.Background(), key)
		if err != nil {
			t.Fatalf("AllowKey while waiting for redis = %v", err)
		}
		if dec.Source == redislimit.SourceRedis {
			return dec
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis did not decide again within %v (last %+v)", d, dec)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRedisRestart stops a Redis of the test's own in the middle of a run
// and starts it again on the same port.
func TestRedisRestart(t *testing.T) {
	port := freePort(t)
	srv := startRedisServer(t, port)
	c := newClient(t, srv.addr())
	var events eventLog
	var logs syncBuffer
	const timeout = 100 * time.Millisecond
	l, err := redislimit.New(redislimit.Config{
		Name: "restart", Client: c, Limit: 10, Burst: 10, Instances: 2,
		Timeout: timeout, FailureThreshold: 2, Cooldown: 100 * time.Millisecond,
		Fallback: redislimit.LocalShare, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	l.OnEvent(events.add)
	ctx := context.Background()
	for i := range 3 {
		if d, err := redislimit.DecideForTest(l, ctx, "k"); err != nil || !d.Allowed || d.Source != redislimit.SourceRedis {
			t.Fatalf("AllowKey #%d before the stop = %+v, %v; want allowed by redis", i, d, err)
		}
	}

	srv.stop()
	start := time.Now()
	d, err := redislimit.DecideForTest(l, ctx, "k")
	if took := time.Since(start); took > timeout+100*time.Millisecond {
		t.Errorf("first AllowKey after the stop took %v, want the fallback within the %v timeout", took, timeout)
	}
	if err != nil || d.Source != redislimit.SourceFallback {
		t.Fatalf("first AllowKey after the stop = %+v, %v; want a fallback decision", d, err)
	}
	admitted := 0
	if d.Allowed {
		admitted++
	}
	for range 20 {
		d, err := redislimit.DecideForTest(l, ctx, "k")
		if err != nil || d.Source != redislimit.SourceFallback {
			t.Fatalf("AllowKey while stopped = %+v, %v; want a fallback decision", d, err)
		}
		if d.Allowed {
			admitted++
		}
	}
	if !l.UsingFallback() {
		t.Errorf("UsingFallback() = false after %d failures, want true", 21)
	}
	// The local share is 5 per second with a burst of 5; allow a token or
	// two for the time the calls took.
	if admitted < 5 || admitted > 7 {
		t.Errorf("local share admitted %d of 21 calls, want 5..7", admitted)
	}
	if got := events.changes(); len(got) != 1 || got[0] != "redis>local_share" {
		t.Errorf("state changes while stopped = %v, want [redis>local_share]", got)
	}

	startRedisServer(t, port) // same port: the client reconnects to it
	d = waitForRedis(t, l, "k", 5*time.Second)
	if got := events.changes(); len(got) != 2 || got[1] != "local_share>redis" {
		t.Errorf("state changes after the restart = %v, want [redis>local_share local_share>redis]", got)
	}
	// The new Redis starts empty: the key has its burst of 10 again, one of
	// which the decision above took, and no more.
	admitted = 0
	if d.Allowed {
		admitted++
	}
	for range 15 {
		d, err := redislimit.DecideForTest(l, ctx, "k")
		if err != nil || d.Source != redislimit.SourceRedis {
			t.Fatalf("AllowKey after the restart = %+v, %v; want a redis decision", d, err)
		}
		if d.Allowed {
			admitted++
		}
	}
	if admitted < 10 || admitted > 11 {
		t.Errorf("after the restart redis admitted %d of 16 calls, want 10 (11 if a token arrived)", admitted)
	}
	log := logs.String()
	if !strings.Contains(log, "using fallback") || !strings.Contains(log, "redis is back") {
		t.Errorf("log = %q, want the switch to the fallback and the return", log)
	}
}

// TestSlowRedis puts a TCP proxy between the limiter and Redis and makes it
// slow: every call must come back within the timeout, answered by the
// fallback, and Redis must decide again once the proxy is fast.
func TestSlowRedis(t *testing.T) {
	c := requireRedis(t)
	prefix := testPrefix(t, c)
	const timeout = 50 * time.Millisecond
	tests := []struct {
		name    string
		mode    redislimit.Fallback
		allowed bool
	}{
		{"fail open", redislimit.FailOpen, true},
		{"fail closed", redislimit.FailClosed, false},
		{"local share", redislimit.LocalShare, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy := startProxy(t, mainRedis)
			pc := newClient(t, proxy.addr())
			h := &countHook{}
			pc.AddHook(h)
			var events eventLog
			l, err := redislimit.New(redislimit.Config{
				Client: pc, Limit: 100, Prefix: prefix + tt.name + ":", Fallback: tt.mode,
				Timeout: timeout, FailureThreshold: 1, Cooldown: 100 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			l.OnEvent(events.add)
			ctx := context.Background()
			waitForRedis(t, l, "k", 2*time.Second)

			proxy.setDelay(400 * time.Millisecond)
			start := time.Now()
			d, err := redislimit.DecideForTest(l, ctx, "k")
			took := time.Since(start)
			if err != nil || d.Source != redislimit.SourceFallback || d.Allowed != tt.allowed {
				t.Fatalf("AllowKey through a slow proxy = %+v, %v; want a fallback decision, allowed %v", d, err, tt.allowed)
			}
			if took < timeout || took > timeout+150*time.Millisecond {
				t.Errorf("AllowKey through a slow proxy took %v, want about the %v timeout", took, timeout)
			}
			if !tt.allowed {
				_, err := l.Acquire(ctx)
				if wait, ok := levee.RetryAfter(err); !errors.Is(err, levee.ErrLimited) || !ok || wait <= 0 {
					t.Errorf("Acquire failing closed = %v (retry-after %v, %v), want ErrLimited with a retry-after", err, wait, ok)
				}
			}
			// The breaker is open: no round trip until the cooldown ends.
			sent := h.cmds.Load()
			for range 10 {
				redislimit.DecideForTest(l, ctx, "k")
			}
			if got := h.cmds.Load() - sent; got != 0 {
				t.Errorf("10 decisions with the breaker open sent %d commands, want 0", got)
			}

			// After the cooldown one call probes the still slow Redis, fails,
			// and the limiter stays on its fallback, saying so.
			time.Sleep(120 * time.Millisecond)
			if d, _ := redislimit.DecideForTest(l, ctx, "k"); d.Source != redislimit.SourceFallback || !l.UsingFallback() {
				t.Errorf("AllowKey probing a slow redis = %+v (using fallback %v), want the fallback", d, l.UsingFallback())
			}
			if !events.has(levee.EventInfo, "redis probe failed") {
				t.Errorf("events = %+v, want an info event for the failed probe", events.events)
			}

			proxy.setDelay(0)
			waitForRedis(t, l, "k", 3*time.Second)
			if got := events.changes(); len(got) < 2 || got[0] != "redis>"+tt.mode.String() || got[len(got)-1] != tt.mode.String()+">redis" {
				t.Errorf("state changes = %v, want [redis>%v ... %v>redis]", got, tt.mode, tt.mode)
			}
		})
	}
}

// TestHungRedisAnswersWithinTimeout stops a Redis of the test's own with
// SIGSTOP, so that it holds its connections and answers nothing, and asks
// for 200 decisions at once: far more than MaxInFlight, so most queue behind
// round trips that hang, and, with leasing, most wait for one key's refill;
// without a MaxInFlight, each goes alone.
// Every decision, queued or not, must come back from the fallback within
// Timeout of being asked.
func TestHungRedisAnswersWithinTimeout(t *testing.T) {
	// The tolerance is the time 200 goroutines woken at once take to be
	// run and return on a small machine under the race detector; the bug
	// this guards against took twice Timeout.
	const timeout = 200 * time.Millisecond
	tests := []struct {
		name      string
		callers   int
		lease     int
		keys      int
		inFlight  int
		tolerance time.Duration
	}{
		{"batched", 200, 0, 200, 4, 80 * time.Millisecond},
		{"leased", 200, 10, 3, 4, 80 * time.Millisecond},
		// Without MaxInFlight every decision is a round trip of its own,
		// and each failure is the client's work to undo: fewer callers,
		// each with a connection open before the hang (see below).
		{"unbatched", 20, 0, 20, -1, 80 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startRedisServer(t, freePort(t))
			l, err := redislimit.New(redislimit.Config{
				Client: newClient(t, srv.addr()), Limit: 1000, Burst: 1000, Lease: tt.lease,
				Timeout: timeout, MaxInFlight: tt.inFlight, Fallback: redislimit.FailOpen,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			// Open a connection for each caller first, so that the hung
			// server holds them: a connection go-redis dials to a hung
			// server during a call is not bounded by the call's deadline
			// (measured: about twice Timeout), which the limiter cannot
			// help; see Config.Timeout.
			var wg sync.WaitGroup
			for i := range tt.callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					redislimit.DecideForTest(l, ctx, "warm"+strconv.Itoa(i))
				}()
			}
			wg.Wait()
			waitForRedis(t, l, "warm", 2*time.Second)

			srv.pause()
			callers := tt.callers
			took := make([]time.Duration, callers)
			decs := make([]redislimit.Decided, callers)
			errs := make([]error, callers)
			start := make(chan struct{})
			for i := range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					t0 := time.Now()
					decs[i], errs[i] = redislimit.DecideForTest(l, ctx, "k"+strconv.Itoa(i%tt.keys))
					took[i] = time.Since(t0)
				}()
			}
			close(start)
			wg.Wait()
			late, worst := 0, time.Duration(0)
			for i := range callers {
				if errs[i] != nil || decs[i].Source != redislimit.SourceFallback || !decs[i].Allowed {
					t.Errorf("decision %d against a hung redis = %+v, %v; want allowed by the fallback", i, decs[i], errs[i])
				}
				worst = max(worst, took[i])
				if took[i] > timeout+tt.tolerance {
					late++
				}
			}
			if late > 0 {
				t.Errorf("%d of %d decisions took longer than the %v timeout (+%v); the slowest took %v",
					late, callers, timeout, tt.tolerance, worst)
			}
		})
	}
}
