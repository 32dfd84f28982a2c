package concurrency_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/concurrency"
)

func newBulkhead(t testing.TB, cfg concurrency.BulkheadConfig) *concurrency.Bulkhead {
	t.Helper()
	b, err := concurrency.NewBulkhead(cfg)
	if err != nil {
		t.Fatalf("NewBulkhead(%+v) = %v", cfg, err)
	}
	return b
}

// eventually polls cond until it holds; the real-time bound only guards
// against a hang, it measures nothing.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(100 * time.Microsecond)
	}
}

// acquireAsync starts Acquire in a goroutine and returns where its result
// arrives.
type acquired struct {
	p   levee.Permit
	err error
}

func acquireAsync(ctx context.Context, b *concurrency.Bulkhead) <-chan acquired {
	ch := make(chan acquired, 1)
	go func() {
		p, err := b.Acquire(ctx)
		ch <- acquired{p, err}
	}()
	return ch
}

func recv(t *testing.T, ch <-chan acquired) acquired {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("Acquire did not return")
		return acquired{}
	}
}

func mustAcquire(t *testing.T, b *concurrency.Bulkhead) levee.Permit {
	t.Helper()
	p, err := b.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire() = %v, want admission", err)
	}
	return p
}

func TestNewBulkheadConfig(t *testing.T) {
	tests := []struct {
		name      string
		cfg       concurrency.BulkheadConfig
		wantErr   string // substring; empty means valid
		wantLimit int
	}{
		{name: "zero", cfg: concurrency.BulkheadConfig{}, wantLimit: concurrency.DefaultMaxConcurrent},
		{name: "limit", cfg: concurrency.BulkheadConfig{MaxConcurrent: 3}, wantLimit: 3},
		{name: "queue and wait", cfg: concurrency.BulkheadConfig{MaxConcurrent: 1, MaxQueue: 4, MaxWait: time.Second}, wantLimit: 1},
		{name: "negative limit", cfg: concurrency.BulkheadConfig{MaxConcurrent: -1}, wantErr: "MaxConcurrent = -1"},
		{name: "negative queue", cfg: concurrency.BulkheadConfig{MaxQueue: -2}, wantErr: "MaxQueue = -2"},
		{name: "negative wait", cfg: concurrency.BulkheadConfig{MaxQueue: 1, MaxWait: -time.Second}, wantErr: "MaxWait = -1s"},
		{name: "wait without queue", cfg: concurrency.BulkheadConfig{MaxWait: time.Second}, wantErr: "needs MaxQueue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := concurrency.NewBulkhead(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewBulkhead(%+v) = %v, want error containing %q", tt.cfg, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewBulkhead(%+v) = %v, want nil", tt.cfg, err)
			}
			if got := b.Limit(); got != tt.wantLimit {
				t.Errorf("Limit() = %d, want %d", got, tt.wantLimit)
			}
		})
	}
}

func TestBulkheadRejectsWhenFull(t *testing.T) {
	b := newBulkhead(t, concurrency.BulkheadConfig{Name: "db", MaxConcurrent: 2})
	var events []levee.Event
	b.OnEvent(func(e levee.Event) { events = append(events, e) })

	p1, p2 := mustAcquire(t, b), mustAcquire(t, b)
	_, err := b.Acquire(context.Background())
	if !errors.Is(err, levee.ErrBulkheadFull) || !errors.Is(err, levee.ErrRejected) {
		t.Fatalf("Acquire() on a full bulkhead = %v, want ErrBulkheadFull matching ErrRejected", err)
	}
	if len(events) != 1 || events[0].Kind != levee.EventRejected || events[0].Policy != "bulkhead" ||
		events[0].Name != "db" || events[0].Reason != "full" || events[0].Err != levee.ErrBulkheadFull {
		t.Fatalf("events = %+v, want one EventRejected from bulkhead db, reason full", events)
	}
	if got := b.InFlight(); got != 2 {
		t.Errorf("InFlight() = %d, want 2", got)
	}
	p1.Done(nil)
	p3 := mustAcquire(t, b)
	p2.Done(errors.New("boom"))
	p3.Record(levee.Outcome{Result: levee.Success})
	if got := b.InFlight(); got != 0 {
		t.Errorf("InFlight() after settling all = %d, want 0", got)
	}
}

// TestBulkheadLimitUnderLoad runs many goroutines through small bulkheads
// and checks that the limit is never exceeded and every slot comes back.
func TestBulkheadLimitUnderLoad(t *testing.T) {
	tests := []struct {
		name string
		cfg  concurrency.BulkheadConfig
	}{
		{name: "no queue", cfg: concurrency.BulkheadConfig{MaxConcurrent: 4}},
		{name: "queue", cfg: concurrency.BulkheadConfig{MaxConcurrent: 4, MaxQueue: 1000}},
		{name: "short queue", cfg: concurrency.BulkheadConfig{MaxConcurrent: 3, MaxQueue: 2}},
	}
	const goroutines, calls = 32, 200
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBulkhead(t, tt.cfg)
			var running, peak, admitted, rejected atomic.Int64
			var wg sync.WaitGroup
			for range goroutines {
				wg.Go(func() {
					for range calls {
						p, err := b.Acquire(context.Background())
						if err != nil {
							if !errors.Is(err, levee.ErrBulkheadFull) {
								t.Errorf("Acquire() = %v, want nil or ErrBulkheadFull", err)
							}
							rejected.Add(1)
							continue
						}
						n := running.Add(1)
						for {
							m := peak.Load()
							if n <= m || peak.CompareAndSwap(m, n) {
								break
							}
						}
						runtime.Gosched()
						running.Add(-1)
						admitted.Add(1)
						p.Done(nil)
					}
				})
			}
			wg.Wait()
			if got, lim := peak.Load(), int64(tt.cfg.MaxConcurrent); got > lim {
				t.Errorf("peak concurrency = %d, want <= %d", got, lim)
			}
			if got := admitted.Load() + rejected.Load(); got != goroutines*calls {
				t.Errorf("admitted+rejected = %d, want %d", got, goroutines*calls)
			}
			if tt.cfg.MaxQueue >= goroutines && rejected.Load() != 0 {
				t.Errorf("rejected = %d with a queue longer than the callers, want 0", rejected.Load())
			}
			if b.InFlight() != 0 || b.Queued() != 0 {
				t.Errorf("InFlight(), Queued() = %d, %d after the load, want 0, 0", b.InFlight(), b.Queued())
			}
		})
	}
}

func TestBulkheadFIFO(t *testing.T) {
	const n = 8
	b := newBulkhead(t, concurrency.BulkheadConfig{MaxConcurrent: 1, MaxQueue: n})
	holder := mustAcquire(t, b)
	waiters := make([]<-chan acquired, n)
	for i := range n {
		waiters[i] = acquireAsync(context.Background(), b)
		eventually(t, "waiter to queue", func() bool { return b.Queued() == i+1 })
	}
	prev := holder
	for i := range n {
		prev.Done(nil)
		a := recv(t, waiters[i])
		if a.err != nil {
			t.Fatalf("waiter %d: Acquire() = %v, want admission", i, a.err)
		}
		if got := b.Queued(); got != n-1-i {
			t.Errorf("after admitting waiter %d: Queued() = %d, want %d", i, got, n-1-i)
		}
		for j := i + 1; j < n; j++ {
			select {
			case <-waiters[j]:
				t.Fatalf("waiter %d admitted before waiter %d", j, i+1)
			default:
			}
		}
		prev = a.p
	}
	prev.Done(nil)
	if got := b.InFlight(); got != 0 {
		t.Errorf("InFlight() = %d, want 0", got)
	}
}

// TestBulkheadHandoff checks that a slot released while a call waits goes to
// that call, not to a newcomer that arrives right after the release.
func TestBulkheadHandoff(t *testing.T) {
	b := newBulkhead(t, concurrency.BulkheadConfig{MaxConcurrent: 1, MaxQueue: 1})
	holder := mustAcquire(t, b)
	waiter := acquireAsync(context.Background(), b)
	eventually(t, "waiter to queue", func() bool { return b.Queued() == 1 })

	holder.Done(nil)
	// The slot now belongs to the waiter, even if it has not run yet.
	if got := b.InFlight(); got != 1 {
		t.Fatalf("InFlight() right after the handoff = %d, want 1", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if p, err := b.Acquire(ctx); err == nil {
		p.Done(nil)
		t.Fatal("newcomer Acquire() = admitted, want it to wait behind the waiter")
	} else if !errors.Is(err, context.Canceled) {
		t.Fatalf("newcomer Acquire(cancelled) = %v, want context.Canceled", err)
	}
	a := recv(t, waiter)
	if a.err != nil {
		t.Fatalf("waiter Acquire() = %v, want admission", a.err)
	}
	a.p.Done(nil)
}

func TestBulkheadQueueTimeout(t *testing.T) {
	clk := clocktest.New(time.Time{})
	b := newBulkhead(t, concurrency.BulkheadConfig{MaxConcurrent: 1, MaxQueue: 1, MaxWait: time.Second, Clock: clk})
	var reasons []string
	b.OnEvent(func(e levee.Event) { reasons = append(reasons, e.Reason) })
	holder := mustAcquire(t, b)
	defer holder.Done(nil)

	waiter := acquireAsync(context.Background(), b)
	clk.BlockUntil(1)
	// The queue is full now: a second waiter is refused at once.
	if _, err := b.Acquire(context.Background()); !errors.Is(err, levee.ErrBulkheadFull) {
		t.Fatalf("Acquire() with a full queue = %v, want ErrBulkheadFull", err)
	}
	clk.Advance(999 * time.Millisecond)
	select {
	case a := <-waiter:
		t.Fatalf("Acquire() returned %v before MaxWait passed", a.err)
	default:
	}
	clk.Advance(time.Millisecond)
	a := recv(t, waiter)
	if !errors.Is(a.err, levee.ErrBulkheadFull) {
		t.Fatalf("Acquire() after MaxWait = %v, want ErrBulkheadFull", a.err)
	}
	if got := b.Queued(); got != 0 {
		t.Errorf("Queued() = %d, want 0", got)
	}
	if want := []string{"full", "wait"}; strings.Join(reasons, ",") != strings.Join(want, ",") {
		t.Errorf("rejection reasons = %v, want %v", reasons, want)
	}
}

// endingCtx is a context the test ends with a chosen error.
type endingCtx struct {
	context.Context
	done chan struct{}
	err  atomic.Value
}

func newEndingCtx() *endingCtx {
	return &endingCtx{Context: context.Background(), done: make(chan struct{})}
}

func (c *endingCtx) Done() <-chan struct{} { return c.done }
func (c *endingCtx) end(err error)         { c.err.Store(err); close(c.done) }
func (c *endingCtx) Err() error {
	if err, ok := c.err.Load().(error); ok {
		return err
	}
	return nil
}

func TestBulkheadContextEndsInQueue(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{name: "cancel", err: context.Canceled},
		{name: "deadline", err: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			b := newBulkhead(t, concurrency.BulkheadConfig{MaxConcurrent: 1, MaxQueue: 2, MaxWait: time.Hour, Clock: clk})
			holder := mustAcquire(t, b)
			ctx := newEndingCtx()
			waiter := acquireAsync(ctx, b)
			behind := acquireAsync(context.Background(), b)
			eventually(t, "two waiters", func() bool { return b.Queued() == 2 })
			ctx.end(tt.err)
			a := recv(t, waiter)
			if a.err != tt.err {
				t.Fatalf("Acquire() = %v, want the context's error %v", a.err, tt.err)
			}
			if got := b.Queued(); got != 1 {
				t.Errorf("Queued() after leaving = %d, want 1", got)
			}
			holder.Done(nil)
			a = recv(t, behind)
			if a.err != nil {
				t.Fatalf("next waiter Acquire() = %v, want admission", a.err)
			}
			a.p.Done(nil)
			if b.InFlight() != 0 || b.Queued() != 0 {
				t.Errorf("InFlight(), Queued() = %d, %d, want 0, 0 (a slot leaked)", b.InFlight(), b.Queued())
			}
		})
	}
}

// TestBulkheadCancelRacesHandoff cancels waiters while slots are handed to
// them; whichever wins, no slot may leak.
func TestBulkheadCancelRacesHandoff(t *testing.T) {
	b := newBulkhead(t, concurrency.BulkheadConfig{MaxConcurrent: 2, MaxQueue: 64})
	var wg sync.WaitGroup
	for i := range 200 {
		ctx, cancel := context.WithCancel(context.Background())
		wg.Go(func() {
			p, err := b.Acquire(ctx)
			if err == nil {
				runtime.Gosched()
				p.Done(nil)
			} else if !errors.Is(err, context.Canceled) {
				t.Errorf("Acquire() = %v, want nil or context.Canceled", err)
			}
		})
		if i%3 == 0 {
			runtime.Gosched()
		}
		cancel()
	}
	wg.Wait()
	if b.InFlight() != 0 || b.Queued() != 0 {
		t.Errorf("InFlight(), Queued() = %d, %d, want 0, 0", b.InFlight(), b.Queued())
	}
	p1, p2 := mustAcquire(t, b), mustAcquire(t, b)
	p1.Done(nil)
	p2.Done(nil)
}

func TestBulkheadSetLimit(t *testing.T) {
	b := newBulkhead(t, concurrency.BulkheadConfig{MaxConcurrent: 1, MaxQueue: 5})
	var changes []levee.Event
	b.OnEvent(func(e levee.Event) {
		if e.Kind == levee.EventLimitChange {
			changes = append(changes, e)
		}
	})
	permits := []levee.Permit{mustAcquire(t, b)}
	waiters := make([]<-chan acquired, 3)
	for i := range waiters {
		waiters[i] = acquireAsync(context.Background(), b)
		eventually(t, "waiter to queue", func() bool { return b.Queued() == i+1 })
	}

	// Up: the two oldest waiters get in at once.
	if err := b.SetLimit(3); err != nil {
		t.Fatalf("SetLimit(3) = %v", err)
	}
	for i := range 2 {
		a := recv(t, waiters[i])
		if a.err != nil {
			t.Fatalf("waiter %d after SetLimit(3): %v, want admission", i, a.err)
		}
		permits = append(permits, a.p)
	}
	if b.InFlight() != 3 || b.Queued() != 1 || b.Limit() != 3 {
		t.Fatalf("InFlight(), Queued(), Limit() = %d, %d, %d, want 3, 1, 3", b.InFlight(), b.Queued(), b.Limit())
	}

	// Down: running calls finish; the waiter gets in only when fewer than
	// the new limit run.
	if err := b.SetLimit(1); err != nil {
		t.Fatalf("SetLimit(1) = %v", err)
	}
	for i := range 2 {
		permits[i].Done(nil)
		select {
		case <-waiters[2]:
			t.Fatalf("waiter admitted with %d running over a limit of 1", b.InFlight())
		default:
		}
	}
	if got := b.InFlight(); got != 1 {
		t.Fatalf("InFlight() = %d, want 1", got)
	}
	permits[2].Done(nil)
	a := recv(t, waiters[2])
	if a.err != nil {
		t.Fatalf("last waiter: %v, want admission", a.err)
	}
	a.p.Done(nil)
	if b.InFlight() != 0 || b.Queued() != 0 {
		t.Errorf("InFlight(), Queued() = %d, %d, want 0, 0", b.InFlight(), b.Queued())
	}

	for _, n := range []int{0, -1} {
		if err := b.SetLimit(n); err == nil {
			t.Errorf("SetLimit(%d) = nil, want an error", n)
		}
	}
	if got := b.Limit(); got != 1 {
		t.Errorf("Limit() after refused SetLimit = %d, want 1", got)
	}
	if len(changes) != 2 || changes[0].Value != 3 || changes[0].Threshold != 1 || changes[1].Value != 1 || changes[1].Threshold != 3 {
		t.Errorf("limit change events = %+v, want 1→3 and 3→1", changes)
	}
}

func TestBulkheadAllocs(t *testing.T) {
	b := newBulkhead(t, concurrency.BulkheadConfig{MaxConcurrent: 4, MaxQueue: 4})
	b.OnEvent(func(levee.Event) {}) // listeners must not cost the admitted path either
	ctx := context.Background()
	got := testing.AllocsPerRun(1000, func() {
		p, err := b.Acquire(ctx)
		if err != nil {
			panic(err)
		}
		p.Done(nil)
	})
	if got != 0 {
		t.Errorf("Acquire+Done allocs = %v, want 0", got)
	}
	full := newBulkhead(t, concurrency.BulkheadConfig{MaxConcurrent: 1})
	defer mustAcquire(t, full).Done(nil)
	got = testing.AllocsPerRun(1000, func() {
		if _, err := full.Acquire(ctx); err == nil {
			panic("admitted")
		}
	})
	if got != 0 {
		t.Errorf("rejecting Acquire allocs = %v, want 0", got)
	}
}

func BenchmarkBulkhead(b *testing.B) {
	ctx := context.Background()
	b.Run("AcquireRelease", func(b *testing.B) {
		bh := newBulkhead(b, concurrency.BulkheadConfig{MaxConcurrent: 1 << 20})
		b.ReportAllocs()
		for b.Loop() {
			p, _ := bh.Acquire(ctx)
			p.Done(nil)
		}
	})
	b.Run("AcquireReleaseParallel", func(b *testing.B) {
		bh := newBulkhead(b, concurrency.BulkheadConfig{MaxConcurrent: 1 << 20})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, _ := bh.Acquire(ctx)
				p.Done(nil)
			}
		})
	})
	b.Run("ContendedQueueParallel", func(b *testing.B) {
		bh := newBulkhead(b, concurrency.BulkheadConfig{MaxConcurrent: 1, MaxQueue: 1 << 20})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, err := bh.Acquire(ctx)
				if err == nil {
					p.Done(nil)
				}
			}
		})
	})
	b.Run("RejectParallel", func(b *testing.B) {
		bh := newBulkhead(b, concurrency.BulkheadConfig{MaxConcurrent: 1})
		p, _ := bh.Acquire(ctx)
		defer p.Done(nil)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = bh.Acquire(ctx)
			}
		})
	})
	b.Run("PipelineParallel", func(b *testing.B) {
		bh := newBulkhead(b, concurrency.BulkheadConfig{MaxConcurrent: 1 << 20})
		pl := levee.New(bh)
		fn := func(context.Context) (int, error) { return 1, nil }
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = levee.Do(ctx, pl, fn)
			}
		})
	})
}
