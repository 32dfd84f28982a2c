package fallback_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/fallback"
)

var errBoom = errors.New("boom")

func TestTriggerMatch(t *testing.T) {
	budget := errors.Join(levee.ErrBudgetExhausted, errBoom)
	tests := []struct {
		name       string
		t          fallback.Trigger
		err        error
		wantReason string
		wantOK     bool
	}{
		{"nil", fallback.OnAny, nil, "", false},
		{"failure", fallback.DefaultTriggers, errBoom, "failure", true},
		{"failure not chosen", fallback.OnOpen, errBoom, "failure", false},
		{"ignored", fallback.OnAny, levee.Ignore(errBoom), "failure", false},
		{"canceled", fallback.OnAny, context.Canceled, "failure", false},
		{"timeout by OnTimeout", fallback.OnTimeout, levee.ErrTimeout, "timeout", true},
		{"timeout by OnFailure", fallback.OnFailure, levee.ErrTimeout, "timeout", true},
		{"timeout not chosen", fallback.OnOpen | fallback.OnRejected, levee.ErrTimeout, "", false},
		{"open by OnOpen", fallback.OnOpen, levee.ErrOpen, "open", true},
		{"open by OnRejected", fallback.OnRejected, levee.ErrOpen, "open", true},
		{"open not by OnFailure", fallback.OnFailure, levee.ErrOpen, "", false},
		{"open not by OnLimited", fallback.OnLimited, levee.ErrOpen, "", false},
		{"limited with retry-after", fallback.OnLimited, levee.Reject(levee.ErrLimited, time.Second), "limited", true},
		{"bulkhead", fallback.OnBulkheadFull, levee.ErrBulkheadFull, "bulkhead-full", true},
		{"shed", fallback.OnShed, fmt.Errorf("x: %w", levee.ErrShed), "shed", true},
		{"budget", fallback.OnBudgetExhausted, budget, "budget-exhausted", true},
		{"budget by default", fallback.DefaultTriggers, budget, "budget-exhausted", true},
		{"other rejection", fallback.OnRejected, levee.ErrRejected, "rejected", true},
		{"other rejection not by OnOpen", fallback.OnOpen, levee.ErrRejected, "rejected", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reason, ok := tt.t.Match(tt.err, levee.DefaultClassifier(tt.err))
			if ok != tt.wantOK || (ok && reason != tt.wantReason) {
				t.Errorf("%v.Match(%v) = %q, %v; want %q, %v", tt.t, tt.err, reason, ok, tt.wantReason, tt.wantOK)
			}
		})
	}
}

func TestTriggerString(t *testing.T) {
	if got := (fallback.OnFailure | fallback.OnOpen).String(); got != "failure|open" {
		t.Errorf("String() = %q, want failure|open", got)
	}
}

// gate rejects every call with err, or admits every call when err is nil.
type gate struct{ err error }

func (g gate) Stage() levee.Stage { return levee.StageBreaker }
func (g gate) Acquire(context.Context) (levee.Permit, error) {
	return levee.Permit{}, g.err
}

func mustChain[T any](t testing.TB, cfg fallback.Config, steps ...fallback.Step[T]) *fallback.Chain[T] {
	t.Helper()
	c, err := fallback.New(cfg, steps...)
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	return c
}

func TestChainThroughPipeline(t *testing.T) {
	failing := func(context.Context) (string, error) { return "", errBoom }
	okCall := func(context.Context) (string, error) { return "primary", nil }
	altErr := errors.New("alternate down")
	tests := []struct {
		name       string
		cfg        fallback.Config
		steps      []fallback.Step[string]
		gateErr    error
		call       func(context.Context) (string, error)
		want       string
		wantErr    []error
		wantEvents string
	}{
		{"success untouched", fallback.Config{}, []fallback.Step[string]{fallback.Value("fb")}, nil, okCall, "primary", nil, "[]"},
		{"failure to value", fallback.Config{}, []fallback.Step[string]{fallback.Value("fb")}, nil, failing, "fb", nil, "[failure→value]"},
		{"open breaker to value", fallback.Config{}, []fallback.Step[string]{fallback.Value("fb")}, levee.ErrOpen, okCall, "fb", nil, "[open→value]"},
		{"open not chosen", fallback.Config{Triggers: fallback.OnFailure}, []fallback.Step[string]{fallback.Value("fb")}, levee.ErrOpen, okCall, "", []error{levee.ErrOpen}, "[]"},
		{"func", fallback.Config{}, []fallback.Step[string]{
			fallback.Func(func(_ context.Context, err error) (string, error) { return "alt after " + err.Error(), nil }),
		}, nil, failing, "alt after boom", nil, "[failure→func]"},
		{"func fails then value", fallback.Config{}, []fallback.Step[string]{
			fallback.Func(func(context.Context, error) (string, error) { return "", altErr }),
			fallback.Value("fb"),
		}, nil, failing, "fb", nil, "[failure→value]"},
		{"every step fails", fallback.Config{}, []fallback.Step[string]{
			fallback.Func(func(context.Context, error) (string, error) { return "", altErr }),
		}, nil, failing, "", []error{errBoom, altErr}, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustChain(t, tt.cfg, tt.steps...)
			var events []string
			c.OnEvent(func(e levee.Event) {
				if e.Kind != levee.EventFallback || e.Policy != "fallback" {
					t.Errorf("event %+v, want an EventFallback from fallback", e)
				}
				events = append(events, e.Reason+"→"+e.To)
			})
			p := levee.New(gate{tt.gateErr}, c)
			got, err := levee.Do(context.Background(), p, tt.call)
			if got != tt.want {
				t.Errorf("Do = %q, want %q", got, tt.want)
			}
			if (err == nil) != (len(tt.wantErr) == 0) {
				t.Errorf("Do error = %v, want %v", err, tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !errors.Is(err, w) {
					t.Errorf("Do error = %v, want it to match %v", err, w)
				}
			}
			if fmt.Sprint(events) != tt.wantEvents {
				t.Errorf("events = %v, want %v", events, tt.wantEvents)
			}
		})
	}
}

func TestFuncRunsItsOwnPipeline(t *testing.T) {
	secondary := levee.New(gate{})
	c := mustChain(t, fallback.Config{}, fallback.Func(func(ctx context.Context, _ error) (int, error) {
		return levee.Do(ctx, secondary, func(context.Context) (int, error) { return 2, nil })
	}))
	got, err := levee.Do(context.Background(), levee.New(c), func(context.Context) (int, error) { return 0, errBoom })
	if got != 2 || err != nil {
		t.Errorf("Do = %d, %v; want 2, nil", got, err)
	}
}

type keyCtx struct{}

func keyOf(ctx context.Context) string { s, _ := ctx.Value(keyCtx{}).(string); return s }

func TestStaleCache(t *testing.T) {
	clk := clocktest.New(time.Time{})
	cache, err := fallback.NewCache[string](fallback.CacheConfig{Key: keyOf, TTL: time.Second, MaxAge: time.Minute, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	c := mustChain(t, fallback.Config{}, fallback.Stale(cache))
	var ages []time.Duration
	c.OnEvent(func(e levee.Event) { ages = append(ages, e.Wait) })
	p := levee.New(c)
	ctxA := context.WithValue(context.Background(), keyCtx{}, "a")
	ctxB := context.WithValue(context.Background(), keyCtx{}, "b")
	answer := func(v string, err error) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return v, err }
	}
	steps := []struct {
		name    string
		advance time.Duration
		ctx     context.Context
		v       string
		err     error
		want    string
		wantErr bool
	}{
		{"miss before any success", 0, ctxA, "", errBoom, "", true},
		{"success stores", 0, ctxA, "a1", nil, "a1", false},
		{"success within TTL keeps older value", 500 * time.Millisecond, ctxA, "a0", nil, "a0", false},
		{"failure serves a1", 9500 * time.Millisecond, ctxA, "", errBoom, "a1", false},
		{"other key misses", 0, ctxB, "", errBoom, "", true},
		{"success after TTL refreshes", 0, ctxA, "a2", nil, "a2", false},
		{"failure serves a2", 0, ctxA, "", errBoom, "a2", false},
		{"at max age still served", time.Minute, ctxA, "", errBoom, "a2", false},
		{"past max age misses", time.Nanosecond, ctxA, "", errBoom, "", true},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		got, err := levee.Do(s.ctx, p, answer(s.v, s.err))
		if got != s.want || (err != nil) != s.wantErr {
			t.Errorf("%s: Do = %q, %v; want %q, error %v", s.name, got, err, s.want, s.wantErr)
		}
	}
	if fmt.Sprint(ages) != "[10s 0s 1m0s]" {
		t.Errorf("served ages = %v, want [10s 0s 1m0s]", ages)
	}
}

func TestCacheEvictsOldestKey(t *testing.T) {
	cache, _ := fallback.NewCache[int](fallback.CacheConfig{Key: keyOf, MaxEntries: 2, TTL: -1})
	ctx := func(k string) context.Context { return context.WithValue(context.Background(), keyCtx{}, k) }
	cache.Put(ctx("a"), 1)
	cache.Put(ctx("b"), 2)
	cache.Put(ctx("a"), 11) // update keeps a's place
	cache.Put(ctx("c"), 3)  // evicts a, the first stored
	if n := cache.Len(); n != 2 {
		t.Errorf("Len() = %d, want 2", n)
	}
	for k, want := range map[string]int{"a": 0, "b": 2, "c": 3} {
		if v, _, ok := cache.Get(ctx(k)); v != want || ok != (want != 0) {
			t.Errorf("Get(%s) = %d, %v; want %d", k, v, ok, want)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := fallback.New[int](fallback.Config{}); err == nil {
		t.Error("New() with no steps = nil error, want one")
	}
	if _, err := fallback.New(fallback.Config{}, fallback.Func[int](nil)); err == nil {
		t.Error("New(Func(nil)) = nil error, want one")
	}
	if _, err := fallback.New(fallback.Config{}, fallback.Stale[int](nil)); err == nil {
		t.Error("New(Stale(nil)) = nil error, want one")
	}
	if _, err := fallback.New(fallback.Config{}, fallback.Step[int]{}); err == nil {
		t.Error("New(Step{}) = nil error, want one")
	}
	if _, err := fallback.New(fallback.Config{Triggers: 1 << 15}, fallback.Value(1)); err == nil {
		t.Error("New(Triggers: 1<<15) = nil error, want one")
	}
	for _, cfg := range []fallback.CacheConfig{{MaxEntries: -1}, {TTL: time.Hour, MaxAge: time.Minute}} {
		if _, err := fallback.NewCache[int](cfg); err == nil {
			t.Errorf("NewCache(%+v) = nil error, want one", cfg)
		}
	}
}

func TestWrongTypeIsAnError(t *testing.T) {
	c := mustChain(t, fallback.Config{}, fallback.Value(1))
	if _, err := levee.Do(context.Background(), levee.New(c), func(context.Context) (string, error) { return "", nil }); !errors.Is(err, levee.ErrPolicyType) {
		t.Errorf("Do(string) through a Chain[int] = %v, want ErrPolicyType", err)
	}
}

func TestAllocs(t *testing.T) {
	c := mustChain(t, fallback.Config{}, fallback.Value(7))
	c.OnEvent(func(levee.Event) {})
	p := levee.New(c)
	ctx := context.Background()
	ok := func(context.Context) (int, error) { return 1, nil }
	fail := func(context.Context) (int, error) { return 0, errBoom }
	if n := testing.AllocsPerRun(1000, func() { _, _ = levee.Do(ctx, p, ok) }); n != 0 {
		t.Errorf("levee.Do(fallback, success) allocs = %v, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = levee.Do(ctx, p, fail) }); n != 0 {
		t.Errorf("levee.Do(fallback, failure replaced) allocs = %v, want 0", n)
	}
	cache, _ := fallback.NewCache[int](fallback.CacheConfig{})
	ps := levee.New(mustChain(t, fallback.Config{}, fallback.Stale(cache)))
	if n := testing.AllocsPerRun(1000, func() { _, _ = levee.Do(ctx, ps, ok); _, _ = levee.Do(ctx, ps, fail) }); n != 0 {
		t.Errorf("levee.Do(stale fallback, success then failure) allocs = %v, want 0", n)
	}
}

func FuzzCache(f *testing.F) {
	f.Add([]byte{0, 1, 2, 0, 3, 4, 5}, uint8(2))
	f.Add([]byte{9, 9, 9, 1}, uint8(1))
	f.Fuzz(func(t *testing.T, ops []byte, size uint8) {
		maxEntries := int(size%8) + 1
		cache, err := fallback.NewCache[int](fallback.CacheConfig{Key: keyOf, MaxEntries: maxEntries, TTL: -1})
		if err != nil {
			t.Fatal(err)
		}
		last := map[string]int{}
		for i, op := range ops {
			k := string(rune('a' + op%16))
			ctx := context.WithValue(context.Background(), keyCtx{}, k)
			if op&0x80 != 0 {
				if v, _, ok := cache.Get(ctx); ok && v != last[k] {
					t.Fatalf("Get(%s) = %d, want the last Put %d", k, v, last[k])
				}
				continue
			}
			cache.Put(ctx, i)
			last[k] = i
			if v, _, ok := cache.Get(ctx); !ok || v != i {
				t.Fatalf("Get(%s) right after Put(%d) = %d, %v", k, i, v, ok)
			}
			if n := cache.Len(); n > maxEntries {
				t.Fatalf("Len() = %d, want <= %d", n, maxEntries)
			}
		}
	})
}

func BenchmarkFallbackSuccess(b *testing.B) {
	p := levee.New(mustChain(b, fallback.Config{}, fallback.Value(7)))
	ctx := context.Background()
	ok := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		_, _ = levee.Do(ctx, p, ok)
	}
}

func BenchmarkStaleParallel(b *testing.B) {
	cache, _ := fallback.NewCache[int](fallback.CacheConfig{})
	p := levee.New(mustChain(b, fallback.Config{}, fallback.Stale(cache)))
	ok := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			_, _ = levee.Do(ctx, p, ok)
		}
	})
}
