package concurrency_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/concurrency"
	"github.com/levee-go/levee/internal/conformance"
)

func newKeyed(t testing.TB, cfg concurrency.KeyedConfig) *concurrency.Keyed {
	t.Helper()
	k, err := concurrency.NewKeyed(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestKeyedIsolatesKeys fills one key's bulkhead: that key is refused,
// another key still has all its slots.
func TestKeyedIsolatesKeys(t *testing.T) {
	k := newKeyed(t, concurrency.KeyedConfig{Bulkhead: concurrency.BulkheadConfig{MaxConcurrent: 2}})
	ctx := context.Background()
	var held []levee.Permit
	for range 2 {
		p, err := k.AcquireKey(ctx, "flood")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, p)
	}
	if _, err := k.AcquireKey(ctx, "flood"); !errors.Is(err, levee.ErrBulkheadFull) {
		t.Fatalf("third call of a full key: err = %v, want ErrBulkheadFull", err)
	}
	for i := range 2 {
		p, err := k.AcquireKey(ctx, "quiet")
		if err != nil {
			t.Fatalf("call %d of another key refused: %v", i+1, err)
		}
		held = append(held, p)
	}
	if g := k.Gate("flood"); g == nil || g.InFlight() != 2 {
		t.Fatalf("Gate(flood) = %v, want 2 in flight", g)
	}
	for _, p := range held {
		p.Done(nil)
	}
	if g := k.Gate("flood"); g.InFlight() != 0 {
		t.Fatalf("after settling: %d in flight, want 0", g.InFlight())
	}
}

// TestKeyedBoundsKeys checks that a full table drops an idle key for a
// new one, and refuses a new key while every key is busy, never dropping
// a busy one.
func TestKeyedBoundsKeys(t *testing.T) {
	var rejected atomic.Int64
	k := newKeyed(t, concurrency.KeyedConfig{MaxKeys: 2, Shards: 1,
		Bulkhead: concurrency.BulkheadConfig{MaxConcurrent: 1}})
	k.OnEvent(func(ev levee.Event) {
		if ev.Kind == levee.EventRejected && ev.Reason == "keys" {
			rejected.Add(1)
		}
	})
	ctx := context.Background()
	pa, err := k.AcquireKey(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := k.AcquireKey(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.AcquireKey(ctx, "c"); !errors.Is(err, levee.ErrBulkheadFull) {
		t.Fatalf("new key with every key busy: err = %v, want ErrBulkheadFull", err)
	}
	if rejected.Load() != 1 {
		t.Errorf("%d rejection events with reason keys, want 1", rejected.Load())
	}
	// a is still held, with its call in flight: its limit still holds.
	if _, err := k.AcquireKey(ctx, "a"); !errors.Is(err, levee.ErrBulkheadFull) {
		t.Fatalf("busy key a was dropped or lost its limit: err = %v", err)
	}
	pa.Done(nil)
	pc, err := k.AcquireKey(ctx, "c")
	if err != nil {
		t.Fatalf("new key after a became idle: %v", err)
	}
	if k.Len() != 2 || k.Gate("a") != nil || k.Gate("b") == nil {
		t.Fatalf("Len %d, a held %v, b held %v; want idle a dropped for c, busy b kept", k.Len(), k.Gate("a") != nil, k.Gate("b") != nil)
	}
	pb.Done(nil)
	pc.Done(nil)
	if n := k.Sweep(); n != 2 || k.Len() != 0 {
		t.Fatalf("Sweep = %d, Len %d; want both idle keys dropped", n, k.Len())
	}
}

// TestKeyedNeverExceedsKeyLimit runs many goroutines over more keys than
// the table holds, so that keys are dropped and made again all the time,
// and checks that no key ever has more calls running than its limit.
func TestKeyedNeverExceedsKeyLimit(t *testing.T) {
	const limit, keys = 2, 16
	k := newKeyed(t, concurrency.KeyedConfig{MaxKeys: 8, Shards: 2,
		Bulkhead: concurrency.BulkheadConfig{MaxConcurrent: limit}})
	var running [keys]atomic.Int64
	var over, admitted atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				key := (g + i) % keys
				p, err := k.AcquireKey(context.Background(), strconv.Itoa(key))
				if err != nil {
					continue
				}
				admitted.Add(1)
				if running[key].Add(1) > limit {
					over.Add(1)
				}
				running[key].Add(-1)
				p.Done(nil)
			}
		}()
	}
	wg.Wait()
	if over.Load() != 0 {
		t.Fatalf("%d times a key had more than %d calls running", over.Load(), limit)
	}
	if admitted.Load() == 0 {
		t.Fatal("nothing was admitted")
	}
	if k.Len() > 8 {
		t.Fatalf("Len = %d, above MaxKeys 8", k.Len())
	}
}

// TestKeyedAdmitNoAlloc checks that admitting and settling a call of a key
// already held allocates nothing.
func TestKeyedAdmitNoAlloc(t *testing.T) {
	k := newKeyed(t, concurrency.KeyedConfig{})
	ctx := context.Background()
	p, _ := k.AcquireKey(ctx, "tenant-1")
	p.Done(nil)
	if n := testing.AllocsPerRun(1000, func() {
		p, err := k.AcquireKey(ctx, "tenant-1")
		if err != nil {
			panic(err)
		}
		p.Done(nil)
	}); n != 0 {
		t.Fatalf("AcquireKey of a known key: %v allocs, want 0", n)
	}
}

// TestKeyedCustomGate gives each key an adaptive limit.
func TestKeyedCustomGate(t *testing.T) {
	var made atomic.Int64
	k := newKeyed(t, concurrency.KeyedConfig{New: func(string) (concurrency.KeyGate, error) {
		made.Add(1)
		return concurrency.NewLimiter(concurrency.LimiterConfig{})
	}})
	for range 3 {
		p, err := k.AcquireKey(context.Background(), "x")
		if err != nil {
			t.Fatal(err)
		}
		p.Done(nil)
	}
	if _, ok := k.Gate("x").(*concurrency.Limiter); !ok || made.Load() != 1 {
		t.Fatalf("gate %T made %d times, want one *Limiter", k.Gate("x"), made.Load())
	}
	boom := errors.New("boom")
	k = newKeyed(t, concurrency.KeyedConfig{New: func(string) (concurrency.KeyGate, error) { return nil, boom }})
	if _, err := k.AcquireKey(context.Background(), "x"); !errors.Is(err, boom) || k.Len() != 0 {
		t.Fatalf("New failing: err = %v, Len %d; want its error and no key", err, k.Len())
	}
}

func TestKeyedConfigErrors(t *testing.T) {
	for _, cfg := range []concurrency.KeyedConfig{
		{MaxKeys: -1},
		{Shards: -1},
		{Shards: 1<<16 + 1},
		{Bulkhead: concurrency.BulkheadConfig{MaxConcurrent: -1}},
	} {
		if _, err := concurrency.NewKeyed(cfg); err == nil {
			t.Errorf("NewKeyed(%+v) = nil error", cfg)
		}
	}
}

// Each tenant gets a bulkhead of its own: one tenant's flood is refused
// while another tenant's calls go through.
func ExampleKeyed() {
	k, err := concurrency.NewKeyed(concurrency.KeyedConfig{
		Bulkhead: concurrency.BulkheadConfig{MaxConcurrent: 1},
		MaxKeys:  1000,
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	p, _ := k.AcquireKey(ctx, "tenant-a")
	_, err = k.AcquireKey(ctx, "tenant-a")
	fmt.Println("tenant-a again:", err)
	q, err := k.AcquireKey(ctx, "tenant-b")
	fmt.Println("tenant-b:", err)
	p.Done(nil)
	q.Done(nil)
	// Output:
	// tenant-a again: levee: bulkhead full
	// tenant-b: <nil>
}

// BenchmarkKeyed compares admitting and settling a call through a keyed
// bulkhead (a known key) with a single bulkhead; report the ratio.
func BenchmarkKeyed(b *testing.B) {
	ctx := context.Background()
	b.Run("bulkhead", func(b *testing.B) {
		bh, _ := concurrency.NewBulkhead(concurrency.BulkheadConfig{MaxConcurrent: 1 << 20})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, _ := bh.Acquire(ctx)
				p.Done(nil)
			}
		})
	})
	b.Run("keyed", func(b *testing.B) {
		k, _ := concurrency.NewKeyed(concurrency.KeyedConfig{Bulkhead: concurrency.BulkheadConfig{MaxConcurrent: 1 << 20}})
		keys := make([]string, 64)
		for i := range keys {
			keys[i] = "tenant-" + strconv.Itoa(i)
		}
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1))
			for pb.Next() {
				p, _ := k.AcquireKey(ctx, keys[i%len(keys)])
				p.Done(nil)
				i++
			}
		})
	})
}

// keyedGate is a Keyed as a plain gate on one key, for the suite.
type keyedGate struct{ *concurrency.Keyed }

func (k keyedGate) Acquire(ctx context.Context) (levee.Permit, error) {
	return k.AcquireKey(ctx, "tenant")
}

func (k keyedGate) InFlight() int {
	if g := k.Gate("tenant"); g != nil {
		return g.InFlight()
	}
	return 0
}
func (k keyedGate) Limit() int { return 2 }

func TestKeyedConformance(t *testing.T) {
	for _, queue := range []int{0, 4} {
		t.Run(fmt.Sprintf("queue %d", queue), func(t *testing.T) {
			c := conformance.Gate{
				New: func(clk clock.Clock) levee.Gate {
					k, err := concurrency.NewKeyed(concurrency.KeyedConfig{
						Bulkhead: concurrency.BulkheadConfig{MaxConcurrent: 2, MaxQueue: queue, Clock: clk}})
					if err != nil {
						t.Fatalf("NewKeyed = %v", err)
					}
					return keyedGate{k}
				},
				Replenishes: true,
				ZeroAllocs:  true,
			}
			if queue > 0 {
				c.Block = func(g levee.Gate) (time.Duration, func()) { return fill(g, 0) }
			}
			conformance.TestGate(t, c)
		})
	}
}
