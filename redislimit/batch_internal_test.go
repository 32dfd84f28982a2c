package redislimit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeRedis stands in for the two ways a dispatcher sends, recording what
// went in which round trip. While gate is set, round trips wait for it to
// close.
type fakeRedis struct {
	mu     sync.Mutex
	trips  [][]string // keys per round trip, in send order
	gate   chan struct{}
	inside atomic.Int64 // round trips being sent now
	most   atomic.Int64 // the most ever sent at once
}

func (f *fakeRedis) enter(keys []string) {
	n := f.inside.Add(1)
	for {
		m := f.most.Load()
		if n <= m || f.most.CompareAndSwap(m, n) {
			break
		}
	}
	f.mu.Lock()
	f.trips = append(f.trips, keys)
	f.mu.Unlock()
	if f.gate != nil {
		<-f.gate // the test keeps round trips in flight until it closes it
	}
	f.inside.Add(-1)
}

// answer is what the fake Redis replies for key: its number, as granted.
func answer(key string) reply {
	var n int64
	fmt.Sscan(key[1:], &n)
	return reply{granted: n}
}

func (f *fakeRedis) dispatcher(max int) *dispatcher {
	return &dispatcher{
		max: max,
		one: func(_ context.Context, key string, _, _ int64, _ any) (reply, error) {
			f.enter([]string{key})
			return answer(key), nil
		},
		many: func(_ context.Context, batch []*pending) {
			keys := make([]string, len(batch))
			for i, p := range batch {
				keys[i] = p.key
			}
			f.enter(keys)
			for _, p := range batch {
				p.r = answer(p.key)
			}
		},
	}
}

func (f *fakeRedis) roundTrips() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.trips)
}

// queueLen counts the decisions queued, abandoned ones included.
func (d *dispatcher) queueLen() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for p := d.head; p != nil; p = p.next {
		n++
	}
	return n
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// decide runs one decision for key in the background and returns where its
// answer will arrive.
func decide(ctx context.Context, d *dispatcher, key string) <-chan error {
	out := make(chan error, 1)
	go func() {
		r, err := d.do(ctx, key, 1, 1, "-1", time.Time{})
		if err == nil && r != answer(key) {
			err = fmt.Errorf("%s answered %+v, want %+v", key, r, answer(key))
		}
		out <- err
	}()
	return out
}

// holdOne sends k0 and keeps its round trip, the only one a dispatcher of
// max 1 has, in flight until the test closes f.gate.
func holdOne(t *testing.T, f *fakeRedis, d *dispatcher) <-chan error {
	t.Helper()
	f.gate = make(chan struct{})
	ch := decide(context.Background(), d, "k0")
	waitFor(t, "a round trip in flight", func() bool { return f.inside.Load() == 1 })
	return ch
}

// enqueue starts a decision for key and waits until it has queued.
func enqueue(t *testing.T, ctx context.Context, d *dispatcher, key string) <-chan error {
	t.Helper()
	n := d.queueLen()
	ch := decide(ctx, d, key)
	waitFor(t, key+" to queue", func() bool { return d.queueLen() == n+1 })
	return ch
}

func TestDispatcherLoneCallerGoesAlone(t *testing.T) {
	var f fakeRedis
	d := f.dispatcher(2)
	for i := range 5 {
		key := fmt.Sprintf("k%d", i)
		r, err := d.do(context.Background(), key, 1, 1, "-1", time.Time{})
		if err != nil || r != answer(key) {
			t.Fatalf("do(%s) = %+v, %v; want %+v", key, r, err, answer(key))
		}
	}
	want := [][]string{{"k0"}, {"k1"}, {"k2"}, {"k3"}, {"k4"}}
	if got := f.roundTrips(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("round trips = %v, want %v", got, want)
	}
	if d.inflight != 0 {
		t.Errorf("inflight = %d after all returned, want 0", d.inflight)
	}
}

func TestDispatcherBatchesTheQueue(t *testing.T) {
	var f fakeRedis
	d := f.dispatcher(1)
	chans := []<-chan error{holdOne(t, &f, d)}
	for i := 1; i < 6; i++ {
		chans = append(chans, enqueue(t, context.Background(), d, fmt.Sprintf("k%d", i)))
	}
	close(f.gate)
	for _, ch := range chans {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	want := [][]string{{"k0"}, {"k1", "k2", "k3", "k4", "k5"}}
	if got := f.roundTrips(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("round trips = %v, want %v: the one in flight, then the queue in arrival order", got, want)
	}
	if d.inflight != 0 || d.head != nil {
		t.Errorf("inflight %d, queue %v after all returned; want 0 and empty", d.inflight, d.head)
	}
}

// TestDispatcherBatchKeepsLeaderValues checks that a batch's round trip
// carries the leading caller's context values (a trace, say).
func TestDispatcherBatchKeepsLeaderValues(t *testing.T) {
	type traceKey struct{}
	var f fakeRedis
	d := f.dispatcher(1)
	var got []any
	many := d.many
	d.many = func(ctx context.Context, batch []*pending) {
		got = append(got, ctx.Value(traceKey{}), ctx.Err())
		many(ctx, batch)
	}
	first := holdOne(t, &f, d)
	lctx, cancel := context.WithCancel(context.WithValue(context.Background(), traceKey{}, "trace-1"))
	leader := enqueue(t, lctx, d, "k1")
	other := enqueue(t, context.Background(), d, "k2")
	close(f.gate)
	for _, ch := range []<-chan error{first, leader, other} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if len(got) != 2 || got[0] != "trace-1" || got[1] != nil {
		t.Errorf("batch context: value, Err = %v; want [trace-1 <nil>]", got)
	}
}

func TestDispatcherCapsTheBatch(t *testing.T) {
	var f fakeRedis
	d := f.dispatcher(1)
	ctx := context.Background()
	chans := []<-chan error{holdOne(t, &f, d)}
	const n = maxBatch + 10
	for i := 1; i <= n; i++ {
		chans = append(chans, decide(ctx, d, fmt.Sprintf("k%d", i)))
	}
	waitFor(t, "all to queue", func() bool { return d.queueLen() == n })
	close(f.gate)
	for _, ch := range chans {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	trips := f.roundTrips()
	sizes := make([]int, len(trips))
	for i, tr := range trips {
		sizes[i] = len(tr)
	}
	if want := []int{1, maxBatch, n - maxBatch}; !slices.Equal(sizes, want) {
		t.Errorf("round trip sizes = %v, want %v", sizes, want)
	}
}

func TestDispatcherQueuedCallerLeavesOnCancel(t *testing.T) {
	var f fakeRedis
	d := f.dispatcher(1)
	bg := context.Background()
	a := holdOne(t, &f, d)
	ctx, cancel := context.WithCancel(bg)
	b := enqueue(t, ctx, d, "k1")
	c := enqueue(t, bg, d, "k2")
	cancel()
	if err := <-b; !errors.Is(err, context.Canceled) {
		t.Fatalf("queued k1 after its cancel: %v, want context.Canceled", err)
	}
	close(f.gate)
	for _, ch := range []<-chan error{a, c} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	want := [][]string{{"k0"}, {"k2"}}
	if got := f.roundTrips(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("round trips = %v, want %v (the cancelled k1 never sent)", got, want)
	}
	if d.inflight != 0 || d.head != nil {
		t.Errorf("inflight %d, queue %v after all returned; want 0 and empty", d.inflight, d.head)
	}
}

// TestDispatcherSurvivesPanics makes the client panic, alone and in a
// batch: the panic reaches the caller that sent, the others queued behind it
// get an error instead of waiting forever, and the dispatcher stays usable.
func TestDispatcherSurvivesPanics(t *testing.T) {
	var f fakeRedis
	d := f.dispatcher(1)
	one, many := d.one, d.many
	boom := func() { panic("client bug") }
	d.one = func(ctx context.Context, key string, want, min int64, now any) (reply, error) {
		if key == "kboom" {
			boom()
		}
		return one(ctx, key, want, min, now)
	}
	d.many = func(ctx context.Context, batch []*pending) {
		many(ctx, batch)
		boom()
	}
	recovered := func(key string) (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = fmt.Errorf("panic: %v", v)
			}
		}()
		_, err = d.do(context.Background(), key, 1, 1, "-1", time.Time{})
		return err
	}
	if err := recovered("kboom"); err == nil || err.Error() != "panic: client bug" {
		t.Fatalf("alone: %v, want the client's panic", err)
	}
	if d.inflight != 0 {
		t.Fatalf("inflight = %d after a panic alone, want 0", d.inflight)
	}

	first := holdOne(t, &f, d)
	results := make(chan error, 3)
	for i := 1; i <= 3; i++ {
		go func() { results <- recovered(fmt.Sprintf("k%d", i)) }()
		waitFor(t, "the decision to queue", func() bool { return d.queueLen() == i })
	}
	close(f.gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	var panicked, told int
	for range 3 {
		switch err := <-results; {
		case err != nil && err.Error() == "panic: client bug":
			panicked++
		case errors.Is(err, errLeaderPanicked):
			told++
		default:
			t.Errorf("queued decision: %v, want the panic (leader) or errLeaderPanicked", err)
		}
	}
	if panicked != 1 || told != 2 {
		t.Errorf("%d panicked and %d were told, want 1 and 2", panicked, told)
	}
	f.gate = nil
	d.many = many
	if r, err := d.do(context.Background(), "k9", 1, 1, "-1", time.Time{}); err != nil || r != answer("k9") {
		t.Errorf("do after the panics = %+v, %v; want %+v", r, err, answer("k9"))
	}
	if d.inflight != 0 || d.head != nil {
		t.Errorf("inflight %d, queue %v at the end; want 0 and empty", d.inflight, d.head)
	}
}

func TestDispatcherUnlimited(t *testing.T) {
	var f fakeRedis
	d := f.dispatcher(-1)
	f.gate = make(chan struct{})
	var chans []<-chan error
	for i := range 10 {
		chans = append(chans, decide(context.Background(), d, fmt.Sprintf("k%d", i)))
	}
	waitFor(t, "ten round trips in flight", func() bool { return f.inside.Load() == 10 })
	close(f.gate)
	for _, ch := range chans {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.roundTrips()); n != 10 {
		t.Errorf("%d round trips, want 10, one per decision", n)
	}
}

// TestDispatcherStress runs many callers, some of them cancelled at random
// moments, and checks that every caller returns, every decision not
// abandoned is sent exactly once, none is sent after being abandoned, no
// more than max round trips are ever in flight, and the dispatcher ends
// idle.
func TestDispatcherStress(t *testing.T) {
	for _, max := range []int{1, 3} {
		t.Run(fmt.Sprint("max=", max), func(t *testing.T) {
			var f fakeRedis
			d := f.dispatcher(max)
			const callers, each = 32, 60
			var (
				wg        sync.WaitGroup
				cancelled sync.Map // key -> true when its caller saw its ctx error
				answered  atomic.Int64
			)
			for c := range callers {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(c), 7))
					for i := range each {
						key := fmt.Sprintf("k%d", c*each+i)
						ctx, cancel := context.WithCancel(context.Background())
						if rng.IntN(4) == 0 {
							after := time.Duration(rng.IntN(50)) * time.Microsecond
							go func() {
								time.Sleep(after)
								cancel()
							}()
						}
						r, err := d.do(ctx, key, 1, 1, "-1", time.Time{})
						cancel()
						switch {
						case errors.Is(err, context.Canceled):
							cancelled.Store(key, true)
						case err != nil:
							t.Errorf("do(%s): %v", key, err)
						case r != answer(key):
							t.Errorf("do(%s) = %+v, want %+v", key, r, answer(key))
						default:
							answered.Add(1)
						}
					}
				})
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("callers still waiting after 30s (queue %d, inflight %d): the dispatcher is stuck", d.queueLen(), d.inflight)
			}
			sent := map[string]int{}
			for _, trip := range f.roundTrips() {
				for _, k := range trip {
					sent[k]++
				}
			}
			for k, n := range sent {
				if n != 1 {
					t.Errorf("%s sent %d times, want once", k, n)
				}
				if _, ok := cancelled.Load(k); ok {
					t.Errorf("%s was sent after its caller left", k)
				}
			}
			if got := int64(len(sent)); got != answered.Load() {
				t.Errorf("%d decisions sent, %d answered; want equal", got, answered.Load())
			}
			if m := f.most.Load(); m > int64(max) {
				t.Errorf("%d round trips in flight at once, want at most %d", m, max)
			}
			if d.inflight != 0 || d.head != nil {
				t.Errorf("inflight %d, queue %v at the end; want 0 and empty", d.inflight, d.head)
			}
		})
	}
}
