package health_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/health"
)

func TestNewAndAddValidation(t *testing.T) {
	if _, err := health.New(health.Config{Timeout: -time.Second}); err == nil || !strings.Contains(err.Error(), "Config.Timeout") {
		t.Errorf("New(Timeout: -1s) error = %v, want one naming Config.Timeout", err)
	}
	tests := []struct {
		name  string
		check health.Check
		want  string // substring of the error; empty means success
	}{
		{"valid", health.Check{Name: "db", Func: ok}, ""},
		{"valid with slash", health.Check{Name: "poststarthook/cache-ready", Func: ok}, ""},
		{"empty name", health.Check{Func: ok}, "Check.Name is empty"},
		{"space in name", health.Check{Name: "my db", Func: ok}, "character ' '"},
		{"query char in name", health.Check{Name: "db?x", Func: ok}, "character '?'"},
		{"leading slash", health.Check{Name: "/db", Func: ok}, "starts or ends with /"},
		{"trailing slash", health.Check{Name: "db/", Func: ok}, "starts or ends with /"},
		{"reserved", health.Check{Name: "shutdown", Func: ok}, "reserved"},
		{"nil func", health.Check{Name: "x"}, "Check.Func is nil"},
		{"negative interval", health.Check{Name: "x", Func: ok, Interval: -1}, "Check.Interval = -1ns"},
		{"unknown probe", health.Check{Name: "x", Func: ok, Probes: 8}, "Check.Probes = 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := health.New(health.Config{})
			defer h.Close()
			err := h.Add(tt.check)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Add(%+v) = %v, want error containing %q", tt.check, err, tt.want)
			}
		})
	}
	h, _ := health.New(health.Config{})
	h.Add(health.Check{Name: "db", Func: ok})
	if err := h.Add(health.Check{Name: "db", Func: ok}); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("Add(duplicate) = %v, want already registered", err)
	}
	h.Close()
	if err := h.Add(health.Check{Name: "late", Func: ok}); err == nil {
		t.Errorf("Add after Close = nil, want error")
	}
}

func TestProbeString(t *testing.T) {
	for _, tt := range []struct {
		p    health.Probe
		want string
	}{
		{health.Liveness, "livez"}, {health.Readiness, "readyz"}, {health.Startup, "startupz"},
		{health.Liveness | health.Startup, "livez|startupz"}, {0, "none"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("Probe(%d).String() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

// events collects a Health's state-change events on a channel.
func events(h *health.Health) <-chan levee.Event {
	ch := make(chan levee.Event, 16)
	h.OnEvent(func(e levee.Event) { ch <- e })
	return ch
}

func next(t *testing.T, ch <-chan levee.Event) levee.Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return levee.Event{}
	}
}

func TestIntervalCheckIsCachedAndRefreshedOnTheClock(t *testing.T) {
	fc := clocktest.New(time.Time{})
	h, _ := health.New(health.Config{Clock: fc})
	ev := events(h)
	var calls atomic.Int32
	var failing atomic.Bool
	err := h.Add(health.Check{Name: "db", Interval: 10 * time.Second, Func: func(context.Context) error {
		calls.Add(1)
		if failing.Load() {
			return errors.New("db down")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if e := next(t, ev); e.Reason != "db" || e.From != "pending" || e.To != "ok" || e.Policy != "health" {
		t.Fatalf("first event = %+v, want db pending -> ok", e)
	}
	fc.BlockUntil(1) // the loop is waiting for its next tick

	hd := h.Handler()
	for range 5 {
		if code, _, _ := get(t, hd, "/readyz"); code != 200 {
			t.Fatalf("GET /readyz = %d, want 200", code)
		}
	}
	if got := calls.Load(); got != 1 {
		t.Fatalf("calls after 5 probes = %d, want 1 (cached)", got)
	}

	failing.Store(true)
	fc.Advance(10*time.Second - time.Nanosecond)
	if code, _, _ := get(t, hd, "/readyz"); code != 200 || calls.Load() != 1 {
		t.Fatalf("before the interval: GET /readyz = %d with %d calls, want 200 with 1", code, calls.Load())
	}
	fc.Advance(time.Nanosecond)
	if e := next(t, ev); e.From != "ok" || e.To != "failed" || e.Err == nil || e.Err.Error() != "db down" {
		t.Fatalf("second event = %+v, want ok -> failed with db down", e)
	}
	code, body, _ := get(t, hd, "/readyz")
	if want := "[+]shutdown ok\n[-]db failed: db down\nreadyz check failed\n"; code != 500 || body != want {
		t.Errorf("GET /readyz after refresh = %d %q, want 500 %q", code, body, want)
	}
	rep := h.Check(context.Background(), health.Readiness)
	if r := rep.Checks[1]; !r.Cached || !r.CheckedAt.Equal(clocktest.Epoch.Add(10*time.Second)) {
		t.Errorf("cached result = %+v, want Cached and CheckedAt = epoch+10s", r)
	}

	fc.BlockUntil(1)
	if err := h.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	fc.Advance(time.Minute)
	if got := calls.Load(); got != 2 {
		t.Errorf("calls after Close and a minute = %d, want 2", got)
	}
	if code, _, _ := get(t, hd, "/readyz"); code != 500 {
		t.Errorf("GET /readyz after Close = %d, want the last cached result (500)", code)
	}
}

func TestIntervalCheckBeforeFirstResult(t *testing.T) {
	fc := clocktest.New(time.Time{})
	h, _ := health.New(health.Config{Clock: fc})
	ev := events(h)
	release := make(chan struct{})
	h.Add(health.Check{Name: "warmup", Interval: time.Second, Timeout: -1, Func: func(ctx context.Context) error {
		<-release
		return nil
	}})
	code, body, _ := get(t, h.Handler(), "/readyz")
	if want := "[+]shutdown ok\n[-]warmup failed: not checked yet\nreadyz check failed\n"; code != 500 || body != want {
		t.Errorf("GET /readyz before the first run = %d %q, want 500 %q", code, body, want)
	}
	close(release)
	if e := next(t, ev); e.To != "ok" {
		t.Fatalf("event = %+v, want -> ok", e)
	}
	if code, _, _ := get(t, h.Handler(), "/readyz/warmup"); code != 200 {
		t.Errorf("GET /readyz/warmup = %d, want 200", code)
	}
	h.Close()
}

func TestCloseInterruptsAHungIntervalCheck(t *testing.T) {
	fc := clocktest.New(time.Time{})
	h, _ := health.New(health.Config{Clock: fc})
	started := make(chan struct{})
	h.Add(health.Check{Name: "hung", Interval: time.Second, Timeout: -1, Func: func(ctx context.Context) error {
		close(started)
		select {} // ignores ctx entirely
	}})
	<-started
	done := make(chan struct{})
	go func() { h.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close() did not return within 10s with a hung check")
	}
}

func TestCheckTimeoutOnFakeClock(t *testing.T) {
	fc := clocktest.New(time.Time{})
	h, _ := health.New(health.Config{Clock: fc, Timeout: 2 * time.Second})
	defer h.Close()
	h.Add(health.Check{Name: "slow", Func: func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}})
	h.Add(health.Check{Name: "stuck", Timeout: 3 * time.Second, NonCritical: true, Func: func(ctx context.Context) error {
		select {} // ignores ctx: abandoned at its timeout
	}})
	got := make(chan health.Report, 1)
	go func() { got <- h.Check(context.Background(), health.Readiness) }()
	fc.BlockUntil(2)
	fc.Advance(2 * time.Second)
	fc.BlockUntil(1)
	fc.Advance(time.Second)
	var rep health.Report
	select {
	case rep = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("Check did not return within 10s of the timeouts")
	}
	if rep.Status != health.StatusFailed {
		t.Errorf("Check().Status = %s, want failed", rep.Status)
	}
	want := []health.Result{
		{Name: "shutdown", Status: health.StatusOK, Critical: true},
		{Name: "slow", Status: health.StatusFailed, Error: "timed out after 2s", Critical: true, Duration: 2 * time.Second},
		{Name: "stuck", Status: health.StatusDegraded, Error: "timed out after 3s", Duration: 3 * time.Second},
	}
	for i, w := range want {
		r := rep.Checks[i]
		// The run's duration is read when its goroutine notices the
		// timeout, which may be after the next Advance.
		if r.Duration < w.Duration {
			t.Errorf("Check().Checks[%d].Duration = %v, want >= %v", i, r.Duration, w.Duration)
		}
		r.CheckedAt, r.Duration, w.Duration = time.Time{}, 0, 0
		if r != w {
			t.Errorf("Check().Checks[%d] = %+v, want %+v", i, r, w)
		}
	}
}

func TestTimeoutErrorMatches(t *testing.T) {
	var err error = &health.TimeoutError{Timeout: time.Second}
	if !errors.Is(err, levee.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, levee.ErrRejected) {
		t.Errorf("TimeoutError matches ErrTimeout/DeadlineExceeded/ErrRejected = %v/%v/%v, want true/true/false",
			errors.Is(err, levee.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, levee.ErrRejected))
	}
}

func TestPanickingCheckFails(t *testing.T) {
	h, _ := health.New(health.Config{})
	defer h.Close()
	h.Add(health.Check{Name: "boom", Probes: health.Liveness, Func: func(context.Context) error { panic("boom") }})
	r, found := h.CheckOne(context.Background(), health.Liveness, "boom")
	if !found || r.Status != health.StatusFailed || r.Error != "panic: boom" {
		t.Errorf("CheckOne(boom) = %+v, %v, want failed with panic: boom", r, found)
	}
}

func TestCallerCancellationFailsOnDemandChecks(t *testing.T) {
	h, _ := health.New(health.Config{})
	defer h.Close()
	h.Add(health.Check{Name: "db", Func: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep := h.Check(ctx, health.Readiness)
	if rep.OK() || rep.Checks[1].Error != "context canceled" {
		t.Errorf("Check(cancelled ctx) = %+v, want failed with context canceled", rep)
	}
}

func TestNonCriticalDegradesButPasses(t *testing.T) {
	h, _ := health.New(health.Config{})
	defer h.Close()
	h.Add(health.Check{Name: "db", Func: ok})
	h.Add(health.Check{Name: "cache", Func: fail("evicted"), NonCritical: true})
	rep := h.Check(context.Background(), health.Readiness)
	if !rep.OK() || rep.Status != health.StatusDegraded {
		t.Errorf("Check() = %s (OK %v), want degraded and OK", rep.Status, rep.OK())
	}
	code, body, _ := get(t, h.Handler(), "/readyz?verbose")
	want := "[+]shutdown ok\n[+]db ok\n[-]cache failed: evicted (non-critical)\nreadyz check passed\n"
	if code != 200 || body != want {
		t.Errorf("GET /readyz?verbose = %d %q, want 200 %q", code, body, want)
	}
}

// TestStartupLatches checks that a check that passed /startupz stays
// passed there without running again, while the other probes it belongs
// to still run it.
func TestStartupLatches(t *testing.T) {
	for _, interval := range []time.Duration{0, time.Second} {
		t.Run(fmt.Sprint("interval=", interval), func(t *testing.T) {
			clk := clocktest.New(time.Unix(1000, 0))
			// A timeout far beyond the interval: advancing the fake clock by
			// intervals never times a run out.
			h, _ := health.New(health.Config{Clock: clk, Timeout: time.Hour})
			defer h.Close()
			var runs atomic.Int64
			var failing atomic.Bool
			failing.Store(true)
			ev := events(h)
			err := h.Add(health.Check{Name: "warm", Probes: health.Startup | health.Readiness, Interval: interval,
				Func: func(context.Context) error {
					runs.Add(1)
					if failing.Load() {
						return errors.New("cold")
					}
					return nil
				}})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			// settle waits, for an interval check, until its cached result
			// says ok (or failed): the check runs once when added, and
			// again each time the clock moves by an interval once the
			// background loop waits on its timer; each settle flips the
			// result, so each ends on the state-change event it causes.
			first := true
			settle := func(ok bool) {
				if interval == 0 {
					return
				}
				if !first {
					clk.BlockUntil(1) // the loop waits for its next run
					clk.Advance(interval)
				}
				first = false
				want := health.StatusFailed
				if ok {
					want = health.StatusOK
				}
				if e := next(t, ev); e.Reason != "warm" || e.To != string(want) {
					t.Fatalf("event %+v, want warm's result to become %s", e, want)
				}
				if r, _ := h.CheckOne(ctx, health.Readiness, "warm"); r.Status != want {
					t.Fatalf("cached result %+v, want %s", r, want)
				}
			}
			settle(false)
			if rep := h.Check(ctx, health.Startup); rep.OK() {
				t.Fatalf("/startupz while the check fails: %s, want failed", rep.Status)
			}
			failing.Store(false)
			settle(true)
			if rep := h.Check(ctx, health.Startup); !rep.OK() {
				t.Fatalf("/startupz once the check passes: %s, want ok", rep.Status)
			}
			failing.Store(true)
			settle(false)
			before := runs.Load()
			rep := h.Check(ctx, health.Startup)
			if !rep.OK() || rep.Checks[0].CheckedAt.IsZero() {
				t.Errorf("/startupz after the check failed again: %+v, want the latched pass", rep)
			}
			if r, ok := h.CheckOne(ctx, health.Startup, "warm"); !ok || r.Status != health.StatusOK {
				t.Errorf("CheckOne(startupz, warm) = %+v, %v; want the latched pass", r, ok)
			}
			if interval == 0 && runs.Load() != before {
				t.Errorf("/startupz ran the latched check %d more times, want none", runs.Load()-before)
			}
			if rep := h.Check(ctx, health.Readiness); rep.OK() {
				t.Errorf("/readyz with the check failing: %s, want failed (the latch is for startup only)", rep.Status)
			}
		})
	}
}

func TestMultiLineReasonStaysOnOneLine(t *testing.T) {
	h, _ := health.New(health.Config{})
	defer h.Close()
	h.Add(health.Check{Name: "db", Func: fail("line one\nline two")})
	_, body, _ := get(t, h.Handler(), "/readyz")
	if want := "[+]shutdown ok\n[-]db failed: line one line two\nreadyz check failed\n"; body != want {
		t.Errorf("GET /readyz = %q, want %q", body, want)
	}
}

func TestDrainEmitsEventOnce(t *testing.T) {
	h, _ := health.New(health.Config{Name: "api"})
	ev := events(h)
	h.Drain()
	h.Drain()
	e := next(t, ev)
	if e.Kind != levee.EventStateChange || e.Name != "api" || e.From != "serving" || e.To != "draining" {
		t.Errorf("Drain event = %+v, want api serving -> draining", e)
	}
	select {
	case e := <-ev:
		t.Errorf("second Drain emitted %+v, want nothing", e)
	default:
	}
}

func TestCheckConcurrentOnDemand(t *testing.T) {
	// On-demand checks of one probe run concurrently: two checks that each
	// wait for the other to start would deadlock if run one after another.
	h, _ := health.New(health.Config{})
	defer h.Close()
	a, b := make(chan struct{}), make(chan struct{})
	h.Add(health.Check{Name: "a", Func: func(ctx context.Context) error { close(a); <-b; return nil }})
	h.Add(health.Check{Name: "b", Func: func(ctx context.Context) error { close(b); <-a; return nil }})
	if rep := h.Check(context.Background(), health.Readiness); rep.Status != health.StatusOK {
		t.Errorf("Check() = %+v, want ok", rep)
	}
}
