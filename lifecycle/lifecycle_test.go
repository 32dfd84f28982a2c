package lifecycle_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/health"
	"github.com/levee-go/levee/lifecycle"
)

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  lifecycle.Config
		want []string // substrings of the error; nil means valid
	}{
		{"zero value", lifecycle.Config{}, nil},
		{"grace only scales the shares", lifecycle.Config{GracePeriod: 6 * time.Second}, nil},
		{"no drain delay", lifecycle.Config{DrainDelay: -1}, nil},
		{"exact fit", lifecycle.Config{GracePeriod: 10 * time.Second, DrainDelay: 2 * time.Second,
			ShutdownTimeout: 6 * time.Second, FlushTimeout: 2 * time.Second}, nil},
		{"negative grace", lifecycle.Config{GracePeriod: -time.Second}, []string{"Config.GracePeriod = -1s"}},
		{"negative shutdown", lifecycle.Config{ShutdownTimeout: -time.Second}, []string{"Config.ShutdownTimeout = -1s"}},
		{"negative flush", lifecycle.Config{FlushTimeout: -time.Second}, []string{"Config.FlushTimeout = -1s"}},
		{"no upgrade drain window", lifecycle.Config{Upgrade: lifecycle.UpgradeConfig{DrainDelay: -1}}, nil},
		{"upgrade drain does not fit", lifecycle.Config{DrainDelay: time.Second, Upgrade: lifecycle.UpgradeConfig{DrainDelay: 15 * time.Second}},
			[]string{"Config.Upgrade.DrainDelay (15s)", "Config.ShutdownTimeout (15s)", "= 35s", "Config.GracePeriod (30s)"}},
		{"negative upgrade timeout", lifecycle.Config{Upgrade: lifecycle.UpgradeConfig{Timeout: -1}}, []string{"Config.Upgrade.Timeout"}},
		{"does not fit", lifecycle.Config{DrainDelay: 10 * time.Second, ShutdownTimeout: 20 * time.Second},
			[]string{"Config.DrainDelay (10s)", "Config.ShutdownTimeout (20s)", "Config.FlushTimeout (5s)", "= 35s", "Config.GracePeriod (30s)"}},
		{"short grace, long explicit shutdown", lifecycle.Config{GracePeriod: 10 * time.Second, ShutdownTimeout: 9 * time.Second},
			[]string{"exceeds Config.GracePeriod (10s)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lifecycle.New(tt.cfg)
			if tt.want == nil {
				if err != nil {
					t.Errorf("New(%+v) = %v, want nil", tt.cfg, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New(%+v) = nil, want error containing %q", tt.cfg, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New(%+v) = %q, want it to contain %q", tt.cfg, err, w)
				}
			}
		})
	}
}

func TestRegistrationErrors(t *testing.T) {
	l, _ := lifecycle.New(lifecycle.Config{FlushTimeout: 2 * time.Second})
	noop := func(context.Context) error { return nil }
	if err := l.OnFlush("big", 3*time.Second, noop); err == nil || !strings.Contains(err.Error(), "Config.FlushTimeout (2s)") {
		t.Errorf("OnFlush(timeout 3s > flush 2s) = %v, want error naming Config.FlushTimeout", err)
	}
	if err := l.OnFlush("neg", -1, noop); err == nil {
		t.Errorf("OnFlush(timeout -1) = nil, want error")
	}
	if err := l.OnFlush("nil", 0, nil); err == nil {
		t.Errorf("OnFlush(nil) = nil, want error")
	}
	if err := l.Go("nil", nil); err == nil {
		t.Errorf("Go(nil) = nil, want error")
	}
	if err := l.Add(nil); err == nil {
		t.Errorf("Add(nil) = nil, want error")
	}
	if err := l.Upgrade(); !errors.Is(err, lifecycle.ErrUpgradesDisabled) {
		t.Errorf("Upgrade() without upgrades = %v, want ErrUpgradesDisabled", err)
	}
	if err := lifecycle.Run(context.Background(), lifecycle.Config{Upgrade: lifecycle.UpgradeConfig{Enabled: true}}); err == nil {
		t.Errorf("Run(Upgrade.Enabled) = nil, want error pointing to New")
	}
}

// syncBuffer collects log output from several goroutines.
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

// harness runs a Lifecycle on a fake clock, without signal handling.
type harness struct {
	t      *testing.T
	fc     *clocktest.Fake
	l      *lifecycle.Lifecycle
	h      *health.Health
	logs   *syncBuffer
	events chan levee.Event
	ret    chan error
	cancel context.CancelFunc
}

func newHarness(t *testing.T, cfg lifecycle.Config) *harness {
	t.Helper()
	hs := &harness{t: t, fc: clocktest.New(time.Time{}), logs: &syncBuffer{},
		events: make(chan levee.Event, 64), ret: make(chan error, 1)}
	hs.h, _ = health.New(health.Config{Clock: hs.fc})
	t.Cleanup(func() { hs.h.Close() })
	cfg.Clock = hs.fc
	cfg.Health = hs.h
	cfg.Signals = []os.Signal{}
	cfg.Logger = slog.New(slog.NewTextHandler(hs.logs, nil))
	l, err := lifecycle.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	hs.l = l
	l.OnEvent(func(e levee.Event) { hs.events <- e })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", hs.logs)
		}
	})
	return hs
}

func (hs *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	hs.cancel = cancel
	hs.t.Cleanup(cancel)
	go func() { hs.ret <- hs.l.Run(ctx) }()
	hs.expect(lifecycle.Running)
}

// expect waits for the transition into stage s.
func (hs *harness) expect(s lifecycle.Stage) levee.Event {
	hs.t.Helper()
	select {
	case e := <-hs.events:
		if e.Kind != levee.EventStateChange || e.Policy != "lifecycle" || e.To != s.String() {
			hs.t.Fatalf("event = %+v, want state change to %s", e, s)
		}
		return e
	case <-time.After(20 * time.Second):
		hs.t.Fatalf("no transition to %s within 20s; stage %s", s, hs.l.Stage())
		return levee.Event{}
	}
}

func (hs *harness) result() error {
	hs.t.Helper()
	select {
	case err := <-hs.ret:
		return err
	case <-time.After(20 * time.Second):
		hs.t.Fatal("Run did not return within 20s")
		return nil
	}
}

// serveHTTP starts an HTTP server on loopback under the lifecycle, with the
// health endpoints and a handler that waits for release when asked to.
func (hs *harness) serveHTTP(release <-chan struct{}, entered chan<- struct{}) string {
	hs.t.Helper()
	ln, err := hs.l.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		hs.t.Fatal(err)
	}
	mux := http.NewServeMux()
	hs.h.Register(mux)
	mux.HandleFunc("/work", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("block") {
			entered <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, "done")
	})
	if err := hs.l.Add(lifecycle.HTTP(&http.Server{Handler: mux}, ln)); err != nil {
		hs.t.Fatal(err)
	}
	return "http://" + ln.Addr().String()
}

func TestStagesInOrder(t *testing.T) {
	hs := newHarness(t, lifecycle.Config{Name: "api", DrainDelay: 3 * time.Second})
	url := hs.serveHTTP(nil, nil)
	var order []string
	var mu sync.Mutex
	for _, n := range []string{"flush-buffers", "commit-offsets", "close-pools"} {
		hs.l.OnFlush(n, time.Second, func(context.Context) error {
			mu.Lock()
			order = append(order, n)
			mu.Unlock()
			return nil
		})
	}
	var workerStopped atomic.Bool
	hs.l.Go("consumer", func(ctx context.Context) error {
		<-ctx.Done()
		workerStopped.Store(true)
		return nil
	})
	hs.start()

	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url + "/readyz")
	if err != nil || resp.StatusCode != 200 || resp.Close {
		t.Fatalf("GET /readyz while running = %v %v (close %v), want 200 keep-alive", resp, err, resp != nil && resp.Close)
	}
	resp.Body.Close()

	hs.cancel()
	if e := hs.expect(lifecycle.Draining); e.From != "running" || e.Name != "api" || !strings.Contains(e.Reason, "context canceled") {
		t.Errorf("draining event = %+v, want from running, name api, reason context canceled", e)
	}
	// Draining: still serving, readiness false, HTTP/1 told to close.
	resp, err = client.Get(url + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz while draining: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(string(body), "[-]shutdown failed") || !resp.Close {
		t.Errorf("GET /readyz while draining = %d %q (close %v), want 500 shutdown failed with Connection: close", resp.StatusCode, body, resp.Close)
	}
	resp, err = client.Get(url + "/work")
	if err != nil || resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("GET /work while draining = %v %v, want 200 with Connection: close", resp, err)
	}
	resp.Body.Close()
	if workerStopped.Load() {
		t.Errorf("worker context cancelled during Draining, want it kept until Stopping")
	}

	hs.fc.BlockUntil(1)
	hs.fc.Advance(3*time.Second - time.Nanosecond)
	if got := hs.l.Stage(); got != lifecycle.Draining {
		t.Fatalf("Stage() before the drain delay ends = %s, want draining", got)
	}
	hs.fc.Advance(time.Nanosecond)
	hs.expect(lifecycle.Stopping)
	hs.expect(lifecycle.Flushing)
	hs.expect(lifecycle.Stopped)
	if err := hs.result(); err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
	if !workerStopped.Load() {
		t.Errorf("worker not stopped")
	}
	if want := "flush-buffers,commit-offsets,close-pools"; strings.Join(order, ",") != want {
		t.Errorf("hooks ran %v, want %s", order, want)
	}
	if _, err := client.Get(url + "/work"); err == nil {
		t.Errorf("GET /work after Stopped succeeded, want connection refused")
	}
	logs := hs.logs.String()
	for _, want := range []string{
		`msg="lifecycle: stage started" name=api stage=draining from=running reason="context: context canceled"`,
		`msg="lifecycle: stage ended" name=api stage=draining duration=3s`,
		`stage=stopping from=draining`, `stage=flushing from=stopping`, `stage=stopped from=flushing`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestShutdownTimeoutClosesServer(t *testing.T) {
	hs := newHarness(t, lifecycle.Config{DrainDelay: -1, ShutdownTimeout: 4 * time.Second})
	entered := make(chan struct{}, 1)
	url := hs.serveHTTP(make(chan struct{}), entered)
	hs.start()
	reqErr := make(chan error, 1)
	go func() {
		resp, err := http.Get(url + "/work?block")
		if err == nil {
			resp.Body.Close()
		}
		reqErr <- err
	}()
	<-entered
	hs.l.Stop()
	hs.expect(lifecycle.Draining)
	hs.expect(lifecycle.Stopping)
	hs.fc.BlockUntil(1) // the shutdown deadline
	hs.fc.Advance(4 * time.Second)
	hs.expect(lifecycle.Flushing)
	hs.expect(lifecycle.Stopped)
	err := hs.result()
	if !errors.Is(err, lifecycle.ErrCutOff) || !strings.Contains(err.Error(), "closed with work in flight") {
		t.Errorf("Run() = %v, want ErrCutOff naming the server", err)
	}
	if err := <-reqErr; err == nil {
		t.Errorf("blocked request succeeded, want it cut off by Close")
	}
	if logs := hs.logs.String(); !strings.Contains(logs, "server did not finish in time") || !strings.Contains(logs, "cut_off=") {
		t.Errorf("logs lack the cut-off warning:\n%s", logs)
	}
}

func TestFlushHooksTimeoutsAndBudget(t *testing.T) {
	hs := newHarness(t, lifecycle.Config{DrainDelay: -1, FlushTimeout: 5 * time.Second})
	var ran []string
	var mu sync.Mutex
	mark := func(n string) {
		mu.Lock()
		ran = append(ran, n)
		mu.Unlock()
	}
	stuckStarted := make(chan struct{})
	hs.l.OnFlush("stuck", 2*time.Second, func(context.Context) error { mark("stuck"); close(stuckStarted); select {} })
	hs.l.OnFlush("failing", 0, func(context.Context) error { mark("failing"); return errors.New("broker gone") })
	slowStarted := make(chan struct{})
	hs.l.OnFlush("slow", 0, func(ctx context.Context) error {
		mark("slow")
		close(slowStarted)
		<-ctx.Done()
		return ctx.Err()
	})
	hs.l.OnFlush("late", 0, func(context.Context) error { mark("late"); return nil })
	hs.start()
	hs.l.Stop()
	hs.expect(lifecycle.Draining)
	hs.expect(lifecycle.Stopping)
	hs.expect(lifecycle.Flushing)
	<-stuckStarted
	hs.fc.BlockUntil(1)
	hs.fc.Advance(2 * time.Second) // "stuck" reaches its own timeout
	<-slowStarted
	hs.fc.BlockUntil(1) // "slow" waits for the 3 s left of the budget
	hs.fc.Advance(3 * time.Second)
	hs.expect(lifecycle.Stopped)
	err := hs.result()
	for _, want := range []string{"flush hook stuck abandoned after 2s", "flush hook failing: broker gone",
		"flush hook slow abandoned after 3s", "flush hook late skipped"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Run() = %v, want it to contain %q", err, want)
		}
	}
	if !errors.Is(err, lifecycle.ErrCutOff) {
		t.Errorf("Run() = %v, want ErrCutOff", err)
	}
	if got := strings.Join(ran, ","); got != "stuck,failing,slow" {
		t.Errorf("hooks ran %s, want stuck,failing,slow", got)
	}
}

func TestSecondStopForces(t *testing.T) {
	hs := newHarness(t, lifecycle.Config{DrainDelay: 5 * time.Second})
	entered := make(chan struct{}, 1)
	url := hs.serveHTTP(make(chan struct{}), entered)
	var flushed atomic.Bool
	hs.l.OnFlush("flush", 0, func(context.Context) error { flushed.Store(true); return nil })
	hs.start()
	go func() {
		if resp, err := http.Get(url + "/work?block"); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	hs.l.Stop()
	hs.expect(lifecycle.Draining)
	hs.l.Stop() // no clock advance at all: everything is cut short
	hs.expect(lifecycle.Stopping)
	hs.expect(lifecycle.Flushing)
	hs.expect(lifecycle.Stopped)
	err := hs.result()
	for _, want := range []string{"drain delay 5s cut short", "closed with work in flight", "flush hook flush skipped"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Run() = %v, want it to contain %q", err, want)
		}
	}
	if flushed.Load() {
		t.Errorf("flush hook ran after a forced stop, want it skipped")
	}
}

// failingServer fails as soon as it is served.
type failingServer struct{}

func (failingServer) Serve() error                   { return errors.New("address already in use") }
func (failingServer) Shutdown(context.Context) error { return nil }
func (failingServer) Close() error                   { return nil }

func TestFailureStartsShutdown(t *testing.T) {
	for _, tt := range []struct {
		name string
		add  func(l *lifecycle.Lifecycle)
		want string
	}{
		{"server", func(l *lifecycle.Lifecycle) { l.Add(failingServer{}) }, "server server#0: address already in use"},
		{"worker", func(l *lifecycle.Lifecycle) {
			l.Go("consumer", func(context.Context) error { return errors.New("partition revoked") })
		}, "worker consumer: partition revoked"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, lifecycle.Config{DrainDelay: -1})
			tt.add(hs.l)
			go func() { hs.ret <- hs.l.Run(context.Background()) }()
			err := hs.result()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run() = %v, want %q", err, tt.want)
			}
			if got := hs.l.Stage(); got != lifecycle.Stopped {
				t.Errorf("Stage() = %s, want stopped", got)
			}
		})
	}
}

// fakeGRPC behaves like *grpc.Server: GracefulStop waits for in-flight
// RPCs, and Stop ends them and makes GracefulStop return.
type fakeGRPC struct {
	stopped  chan struct{}
	graceful chan struct{} // if set, receives when GracefulStop starts waiting
	inflight bool
	once     sync.Once
	calls    atomic.Int32
}

func (g *fakeGRPC) Serve(net.Listener) error { <-g.stopped; return nil }
func (g *fakeGRPC) GracefulStop() {
	g.calls.Add(1)
	if g.graceful != nil {
		g.graceful <- struct{}{}
	}
	if !g.inflight {
		g.Stop()
	}
	<-g.stopped
}
func (g *fakeGRPC) Stop() { g.once.Do(func() { close(g.stopped) }) }

func TestGRPCAdapter(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, inflight := range []bool{false, true} {
		t.Run(fmt.Sprintf("inflight=%v", inflight), func(t *testing.T) {
			g := &fakeGRPC{stopped: make(chan struct{}), graceful: make(chan struct{}, 1), inflight: inflight}
			s := lifecycle.GRPC(g, ln)
			served := make(chan error, 1)
			go func() { served <- s.Serve() }()
			// The shutdown budget runs out once GracefulStop is waiting
			// for the RPCs in flight: no real timeout, no race with it.
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			if inflight {
				go func() { <-g.graceful; cancel(context.DeadlineExceeded) }()
			}
			err := s.Shutdown(ctx)
			if inflight {
				if !errors.Is(err, context.Canceled) || !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
					t.Errorf("Shutdown with RPCs in flight = %v, want the context's error", err)
				}
				s.Close()
			} else if err != nil {
				t.Errorf("Shutdown() = %v, want nil", err)
			}
			if err := <-served; err != nil {
				t.Errorf("Serve() = %v, want nil", err)
			}
			if got := fmt.Sprint(s); !strings.HasPrefix(got, "grpc 127.0.0.1:") {
				t.Errorf("String() = %q, want grpc ADDR", got)
			}
		})
	}
}

func TestMiddlewareClosesAfterDrain(t *testing.T) {
	hs := newHarness(t, lifecycle.Config{DrainDelay: time.Second})
	hd := hs.l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: hd}
	go srv.Serve(ln)
	defer srv.Close()
	get := func() bool {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Close
	}
	hs.start()
	if get() {
		t.Errorf("Connection: close while running, want keep-alive")
	}
	hs.l.Stop()
	hs.expect(lifecycle.Draining)
	if !get() {
		t.Errorf("no Connection: close while draining")
	}
	hs.fc.BlockUntil(1)
	hs.fc.Advance(time.Second)
	hs.result()
}

func TestStageString(t *testing.T) {
	for s, want := range map[lifecycle.Stage]string{
		lifecycle.Starting: "starting", lifecycle.Running: "running", lifecycle.Draining: "draining",
		lifecycle.Stopping: "stopping", lifecycle.Flushing: "flushing", lifecycle.Stopped: "stopped", 42: "unknown",
	} {
		if got := s.String(); got != want {
			t.Errorf("Stage(%d).String() = %q, want %q", s, got, want)
		}
	}
}

// nopWriter is a ResponseWriter that keeps nothing, so that allocation
// counts measure the middleware alone.
type nopWriter struct{ h http.Header }

func (w nopWriter) Header() http.Header       { return w.h }
func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (nopWriter) WriteHeader(int)             {}

func TestMiddlewareAllocations(t *testing.T) {
	l, _ := lifecycle.New(lifecycle.Config{})
	hd := l.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	w := nopWriter{http.Header{}}
	r, _ := http.NewRequest("GET", "http://x/", nil)
	if n := testing.AllocsPerRun(1000, func() { hd.ServeHTTP(w, r) }); n != 0 {
		t.Errorf("Middleware allocations per request = %v, want 0", n)
	}
}

func BenchmarkMiddlewareParallel(b *testing.B) {
	l, _ := lifecycle.New(lifecycle.Config{})
	hd := l.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := nopWriter{http.Header{}}
		r, _ := http.NewRequest("GET", "http://x/", nil)
		for pb.Next() {
			hd.ServeHTTP(w, r)
		}
	})
}
