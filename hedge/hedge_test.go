package hedge_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/hedge"
)

var errBoom = errors.New("boom")

func mustNew(t testing.TB, cfg hedge.Config) *hedge.Hedger {
	t.Helper()
	h, err := hedge.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	return h
}

// script is a call whose attempts are driven by the test: attempt n (from 1)
// waits for release[n] (or its context) and returns answer[n].
type script struct {
	n         atomic.Int32
	release   []chan struct{}
	answers   []error
	cancelled []chan struct{}
}

func newScript(answers ...error) *script {
	s := &script{answers: answers}
	for range answers {
		s.release = append(s.release, make(chan struct{}))
		s.cancelled = append(s.cancelled, make(chan struct{}))
	}
	return s
}

func (s *script) call(ctx context.Context) (int, error) {
	i := int(s.n.Add(1)) - 1
	select {
	case <-s.release[i]:
		return i + 1, s.answers[i]
	case <-ctx.Done():
		close(s.cancelled[i])
		return 0, ctx.Err()
	}
}

type outcome struct {
	v   int
	err error
}

func start(p *levee.Pipeline, fn func(context.Context) (int, error)) <-chan outcome {
	out := make(chan outcome, 1)
	go func() {
		v, err := levee.Do(context.Background(), p, fn)
		out <- outcome{v, err}
	}()
	return out
}

// started waits until n attempts have begun.
func (s *script) started(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.n.Load() < int32(n) {
		if time.Now().After(deadline) {
			t.Fatalf("attempts = %d, want %d to start", s.n.Load(), n)
		}
		runtime.Gosched()
	}
}

func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not happen", what)
	}
}

func TestHedgeWins(t *testing.T) {
	clk := clocktest.New(time.Time{})
	h := mustNew(t, hedge.Config{Delay: 100 * time.Millisecond, Clock: clk})
	var events []string
	h.OnEvent(func(e levee.Event) { events = append(events, fmt.Sprintf("%s %d after %v", e.Kind, e.Attempt, e.Wait)) })
	s := newScript(nil, nil)
	out := start(levee.New(h), s.call)
	clk.BlockUntil(1) // the hedge timer
	s.started(t, 1)
	clk.Advance(99 * time.Millisecond)
	if n := s.n.Load(); n != 1 {
		t.Fatalf("attempts before the delay = %d, want 1", n)
	}
	clk.Advance(time.Millisecond)
	s.started(t, 2)
	close(s.release[1]) // the hedge answers at once
	got := <-out
	if got.v != 2 || got.err != nil {
		t.Errorf("Do = %d, %v; want 2 (the hedge), nil", got.v, got.err)
	}
	wait(t, s.cancelled[0], "cancellation of the first attempt")
	if fmt.Sprint(events) != "[hedge 2 after 100ms]" {
		t.Errorf("events = %v, want [hedge 2 after 100ms]", events)
	}
}

func TestNoHedgeWhenFast(t *testing.T) {
	clk := clocktest.New(time.Time{})
	h := mustNew(t, hedge.Config{Clock: clk})
	var calls atomic.Int32
	v, err := levee.Do(context.Background(), levee.New(h), func(context.Context) (int, error) {
		calls.Add(1)
		return 1, nil
	})
	if v != 1 || err != nil || calls.Load() != 1 {
		t.Errorf("Do = %d, %v after %d calls; want 1, nil after 1", v, err, calls.Load())
	}
	if n := clk.Pending(); n != 0 {
		t.Errorf("pending timers = %d, want 0 (hedge timer stopped)", n)
	}
}

func TestHedgeTiming(t *testing.T) {
	tests := []struct {
		name      string
		maxHedges int
		answers   []error
		releases  []int // attempts released, in order, after all have started
		want      int
		wantErr   error
	}{
		{"first wins after hedges start", 2, []error{nil, nil, nil}, []int{0}, 1, nil},
		{"third wins", 2, []error{nil, nil, nil}, []int{2}, 3, nil},
		{"failure waits for others", 2, []error{errBoom, nil, nil}, []int{0, 1}, 2, nil},
		{"rejected hedge waits for others", 1, []error{nil, levee.ErrLimited}, []int{1, 0}, 1, nil},
		{"ignored error wins", 1, []error{levee.Ignore(errBoom), nil}, []int{0}, 1, errBoom},
		{"all fail: last failure", 1, []error{errBoom, levee.ErrTimeout}, []int{0, 1}, 2, levee.ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := clocktest.New(time.Time{})
				h := mustNew(t, hedge.Config{MaxHedges: tt.maxHedges, Delay: 50 * time.Millisecond, Clock: clk})
				s := newScript(tt.answers...)
				out := start(levee.New(h), s.call)
				for range tt.maxHedges {
					clk.BlockUntil(1)
					clk.Advance(50 * time.Millisecond)
				}
				s.started(t, len(tt.answers))
				for k, i := range tt.releases {
					close(s.release[i])
					if k == len(tt.releases)-1 {
						break
					}
					// A losing answer must not end the call: once everything
					// in the bubble has settled, Do has not returned.
					synctest.Wait()
					select {
					case got := <-out:
						t.Fatalf("Do = %d, %v after attempt %d alone answered, want it to wait", got.v, got.err, i+1)
					default:
					}
				}
				got := <-out
				if got.v != tt.want || !errors.Is(got.err, tt.wantErr) || (got.err == nil) != (tt.wantErr == nil) {
					t.Errorf("Do = %d, %v; want %d, %v", got.v, got.err, tt.want, tt.wantErr)
				}
				if elapsed := clk.Now().Sub(clocktest.Epoch); elapsed != time.Duration(tt.maxHedges)*50*time.Millisecond {
					t.Errorf("hedges started over %v, want %v", elapsed, time.Duration(tt.maxHedges)*50*time.Millisecond)
				}
			})
		})
	}
}

func TestFailureDoesNotHedge(t *testing.T) {
	clk := clocktest.New(time.Time{})
	h := mustNew(t, hedge.Config{Clock: clk})
	var calls atomic.Int32
	_, err := levee.Do(context.Background(), levee.New(h), func(context.Context) (int, error) {
		calls.Add(1)
		return 0, errBoom
	})
	if !errors.Is(err, errBoom) || calls.Load() != 1 {
		t.Errorf("Do = %v after %d calls; want boom after 1", err, calls.Load())
	}
}

type budget struct {
	allow    atomic.Bool
	tries    atomic.Int32
	requests atomic.Int32
}

func (b *budget) TryRetry() bool { b.tries.Add(1); return b.allow.Load() }
func (b *budget) Request()       { b.requests.Add(1) }

func TestBudget(t *testing.T) {
	for _, allow := range []bool{true, false} {
		t.Run(fmt.Sprint("allow=", allow), func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			b := &budget{}
			b.allow.Store(allow)
			h := mustNew(t, hedge.Config{MaxHedges: 3, Delay: 10 * time.Millisecond, Budget: b, CountRequests: true, Clock: clk})
			var reasons []string
			h.OnEvent(func(e levee.Event) {
				if e.Kind == levee.EventInfo {
					reasons = append(reasons, e.Reason)
				}
			})
			s := newScript(nil, nil, nil, nil)
			out := start(levee.New(h), s.call)
			clk.BlockUntil(1)
			clk.Advance(10 * time.Millisecond)
			if allow {
				clk.BlockUntil(1)
				clk.Advance(10 * time.Millisecond)
				clk.BlockUntil(1)
				clk.Advance(10 * time.Millisecond)
				s.started(t, 4)
			} else {
				for b.tries.Load() == 0 { // the refusal is made before the release
					runtime.Gosched()
				}
			}
			for i := range s.release {
				close(s.release[i])
			}
			<-out
			wantTries, wantAttempts, wantReasons := 3, 4, "[]"
			if !allow {
				wantTries, wantAttempts, wantReasons = 1, 1, "[budget-exhausted]"
			}
			if n := b.tries.Load(); n != int32(wantTries) {
				t.Errorf("budget asked %d times, want %d", n, wantTries)
			}
			if n := s.n.Load(); n != int32(wantAttempts) {
				t.Errorf("attempts = %d, want %d", n, wantAttempts)
			}
			if n := b.requests.Load(); n != 1 {
				t.Errorf("budget requests = %d, want 1", n)
			}
			if fmt.Sprint(reasons) != wantReasons {
				t.Errorf("info events = %v, want %v", reasons, wantReasons)
			}
		})
	}
}

func TestPercentileDelay(t *testing.T) {
	clk := clocktest.New(time.Time{})
	// A budget that refuses every hedge: the calls below advance the fake
	// clock past the delay, and a hedge started then would add a second
	// latency to the reservoir, depending on scheduling.
	h := mustNew(t, hedge.Config{Delay: time.Hour, Percentile: 0.9, MinSamples: 20, Clock: clk, Budget: refuseAll{}})
	p := levee.New(h)
	run := func(latency time.Duration) {
		_, err := levee.Do(context.Background(), p, func(context.Context) (int, error) {
			clk.Advance(latency)
			return 1, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 19; i++ {
		run(time.Duration(i) * time.Millisecond)
	}
	if got := h.Delay(); got != time.Hour {
		t.Errorf("Delay() after 19 samples = %v, want 1h (not enough samples)", got)
	}
	run(20 * time.Millisecond)
	if got := h.Delay(); got != 18*time.Millisecond {
		t.Errorf("Delay() after latencies 1..20ms = %v, want 18ms (p90)", got)
	}
	for i := 21; i <= 96; i++ {
		run(time.Duration(i) * time.Millisecond)
	}
	if got := h.Delay(); got != 87*time.Millisecond {
		t.Errorf("Delay() after latencies 1..96ms = %v, want 87ms (p90)", got)
	}
	// The reservoir keeps the last 128: 160 more calls at 5ms push p90 down.
	for range 160 {
		run(5 * time.Millisecond)
	}
	if got := h.Delay(); got != 5*time.Millisecond {
		t.Errorf("Delay() after 160 calls of 5ms = %v, want 5ms", got)
	}
}

func TestGatesSeeEveryAttempt(t *testing.T) {
	clk := clocktest.New(time.Time{})
	h := mustNew(t, hedge.Config{Clock: clk})
	g := &countingGate{}
	s := newScript(nil, nil)
	out := start(levee.New(g, h), s.call)
	clk.BlockUntil(1)
	clk.Advance(100 * time.Millisecond)
	s.started(t, 2)
	close(s.release[0])
	<-out
	wait(t, s.cancelled[1], "cancellation of the hedge")
	for g.released.Load() != 2 {
		runtime.Gosched()
	}
	if n := g.acquired.Load(); n != 2 {
		t.Errorf("gate acquisitions = %d, want 2", n)
	}
}

type countingGate struct{ acquired, released atomic.Int32 }

func (g *countingGate) Stage() levee.Stage { return levee.StageBreaker }
func (g *countingGate) Acquire(context.Context) (levee.Permit, error) {
	g.acquired.Add(1)
	return levee.NewPermit(g, 0, 0), nil
}
func (g *countingGate) Release(levee.Permit, levee.Outcome) { g.released.Add(1) }

func TestPanics(t *testing.T) {
	h := mustNew(t, hedge.Config{})
	boom := func(context.Context) (int, error) { panic("kaboom") }
	p, err := levee.NewPipeline(levee.Config{ReturnPanics: true}, h)
	if err != nil {
		t.Fatal(err)
	}
	_, err = levee.Do(context.Background(), p, boom)
	if pe, ok := errors.AsType[*levee.PanicError](err); !ok || pe.Value != "kaboom" {
		t.Errorf("Do = %v, want a PanicError of kaboom", err)
	}
	defer func() {
		if r := recover(); r != "kaboom" {
			t.Errorf("recover() = %v, want kaboom re-raised in the caller", r)
		}
	}()
	_, _ = levee.Do(context.Background(), levee.New(h), boom)
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []hedge.Config{{MaxHedges: -1}, {Delay: -1}, {Percentile: 1}, {Percentile: -0.1}, {MinSamples: -1}, {MinSamples: 1000}} {
		if h, err := hedge.New(cfg); err == nil {
			t.Errorf("New(%+v) = %v, nil; want an error", cfg, h)
		}
	}
}

// TestNoLeakedGoroutines hedges with calls that only end when cancelled,
// and checks that every goroutine ends: synctest.Test fails when a
// goroutine of its bubble outlives the test. The bubble's time is fake, so
// nothing waits for real.
func TestNoLeakedGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{MaxHedges: 3, Delay: time.Millisecond})
		p := levee.New(h)
		for range 10 {
			var n atomic.Int32
			v, err := levee.Do(context.Background(), p, func(ctx context.Context) (int, error) {
				if i := n.Add(1); i == 4 {
					return int(i), nil
				}
				<-ctx.Done()
				return 0, ctx.Err()
			})
			if v != 4 || err != nil {
				t.Fatalf("Do = %d, %v; want 4, nil", v, err)
			}
		}
		// The caller gives up while every attempt hangs.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, err := levee.Do(ctx, p, func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Do with a 20ms deadline = %v, want DeadlineExceeded", err)
		}
	})
}

func BenchmarkHedgeNoHedge(b *testing.B) {
	p := levee.New(mustNew(b, hedge.Config{Delay: time.Hour}))
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		_, _ = levee.Do(ctx, p, fn)
	}
}

func BenchmarkHedgeNoHedgeParallel(b *testing.B) {
	p := levee.New(mustNew(b, hedge.Config{Delay: time.Hour, Percentile: 0.95}))
	fn := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			_, _ = levee.Do(ctx, p, fn)
		}
	})
}

// refuseAll is a hedge budget that allows nothing.
type refuseAll struct{}

func (refuseAll) TryRetry() bool { return false }
