package natsjs_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/concurrency"
	"github.com/levee-go/levee/leveemq"
	"github.com/levee-go/levee/leveemq/natsjs"
	"github.com/levee-go/levee/retry"
	"github.com/redis/go-redis/v9"
)

func fastBackoff(t *testing.T) *retry.Retry {
	t.Helper()
	r, err := retry.New(retry.Config{BaseDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func bulkhead(t *testing.T, n int) *concurrency.Bulkhead {
	t.Helper()
	b, err := concurrency.NewBulkhead(concurrency.BulkheadConfig{MaxConcurrent: n, MaxQueue: 1})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A consumer whose connection dies mid-batch, with effects committed but
// not acknowledged, is replaced by a new one on the same durable consumer:
// every message's effect is applied exactly once.
func TestKilledConsumerRestartedAppliesEachEffectOnce(t *testing.T) {
	rdb := redisClient(t)
	_, js0 := connect(t)
	top := topology(t, js0, time.Second)
	st, prefix := store(t, rdb)
	effects := prefix + "effects"
	const n = 40
	all := ids("m", n)
	publish(t, js0, top.Subject, all...)

	apply := st.Handler(func(ctx context.Context, m leveemq.Message, p redis.Pipeliner) error {
		p.HIncrBy(ctx, effects, m.ID, 1)
		return nil
	})

	nc1, js1 := connect(t)
	var committed atomic.Int64
	var kill sync.Once
	c1, err := leveemq.New(leveemq.Config{
		Source: source(t, js1, top), Store: st, Concurrency: bulkhead(t, 4), Lease: time.Second,
		Handler: func(ctx context.Context, m leveemq.Message) error {
			err := apply(ctx, m)
			if err == nil && committed.Add(1) >= 10 {
				kill.Do(nc1.Close)
			}
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	if err := c1.Run(ctx); err == nil {
		t.Fatal("first consumer: Run returned nil, want the closed connection's error")
	}
	if committed.Load() < 10 {
		t.Fatalf("first consumer committed %d effects before the kill, want at least 10", committed.Load())
	}

	_, js2 := connect(t)
	c2, err := leveemq.New(leveemq.Config{
		Source: source(t, js2, top), Store: st, Concurrency: bulkhead(t, 4), Lease: time.Second,
		Handler: apply,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c2.Run(ctx2) }()
	eventually(t, 20*time.Second, "all effects and a settled consumer", func() bool {
		return rdb.HLen(ctx, effects).Val() == n && settled(t, js0, top)
	})
	cancel2()
	if err := <-done; err != nil {
		t.Fatalf("second consumer: Run = %v", err)
	}
	got := rdb.HGetAll(ctx, effects).Val()
	for _, id := range all {
		if got[id] != "1" {
			t.Errorf("message %s: effect applied %q times, want 1", id, got[id])
		}
	}
	if s := c2.Stats(); s.Duplicates < 1 {
		t.Errorf("second consumer stats %+v: want at least 1 duplicate (the message whose ack the kill lost)", s)
	}
	if d := dlqCount(t, js0, top); d != 0 {
		t.Errorf("dead-letter subject holds %d messages, want 0", d)
	}
}

// A message that always fails is dead-lettered after MaxAttempts with its
// reason attached, while the others are processed.
func TestPoisonMessageDeadLetteredWithReason(t *testing.T) {
	rdb := redisClient(t)
	_, js := connect(t)
	top := topology(t, js, 5*time.Second)
	st, _ := store(t, rdb)
	good := ids("ok", 10)
	publish(t, js, top.Subject, append([]string{"poison"}, good...)...)

	var mu sync.Mutex
	calls := map[string]int{}
	c, err := leveemq.New(leveemq.Config{
		Source: source(t, js, top), Store: st, MaxAttempts: 3, Backoff: fastBackoff(t),
		Concurrency: bulkhead(t, 4),
		Handler: func(ctx context.Context, m leveemq.Message) error {
			mu.Lock()
			calls[m.ID]++
			mu.Unlock()
			if m.ID == "poison" {
				return errors.New("cannot parse body")
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	eventually(t, 15*time.Second, "the poison message on the dead-letter subject", func() bool {
		return dlqCount(t, js, top) == 1 && c.Stats().Processed == int64(len(good)) && settled(t, js, top)
	})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	dl := deadLetters(t, js, top)
	if len(dl) != 1 {
		t.Fatalf("dead letters: %d, want 1", len(dl))
	}
	h := dl[0].Headers()
	if id := h.Get("x-levee-message-id"); id != "poison" {
		t.Errorf("dead-lettered message id %q, want poison", id)
	}
	if r := h.Get(leveemq.HeaderReason); !strings.Contains(r, "cannot parse body") {
		t.Errorf("header %s = %q, want the handler's error", leveemq.HeaderReason, r)
	}
	if a := h.Get(leveemq.HeaderAttempts); a != "3" {
		t.Errorf("header %s = %q, want 3", leveemq.HeaderAttempts, a)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls["poison"] != 3 {
		t.Errorf("poison handled %d times, want 3", calls["poison"])
	}
	for _, id := range good {
		if calls[id] != 1 {
			t.Errorf("%s handled %d times, want 1", id, calls[id])
		}
	}
}

// While the dependency's breaker is open, messages are returned without
// counting attempts: none is dead-lettered, even with MaxAttempts 1, and all
// are processed once the breaker closes.
func TestOpenBreakerPausesInsteadOfDeadLettering(t *testing.T) {
	rdb := redisClient(t)
	_, js := connect(t)
	top := topology(t, js, 5*time.Second)
	st, _ := store(t, rdb)
	msgs := ids("b", 10)
	publish(t, js, top.Subject, msgs...)

	br, err := breaker.New(breaker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	br.ForceOpen()
	var calls atomic.Int64
	c, err := leveemq.New(leveemq.Config{
		Source: source(t, js, top), Store: st, MaxAttempts: 1, Backoff: fastBackoff(t),
		Concurrency: bulkhead(t, 4), Dependency: br, Pause: 50 * time.Millisecond,
		Handler: func(ctx context.Context, m leveemq.Message) error {
			calls.Add(1)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	eventually(t, 10*time.Second, "messages returned while the breaker is open", func() bool {
		return c.Stats().Returned >= int64(2*len(msgs))
	})
	if n := calls.Load(); n != 0 {
		t.Errorf("handler ran %d times while the breaker was open, want 0", n)
	}
	if d := dlqCount(t, js, top); d != 0 {
		t.Errorf("dead-letter subject holds %d messages while the breaker is open, want 0", d)
	}
	br.Reset()
	eventually(t, 10*time.Second, "all messages processed after the breaker closed", func() bool {
		return c.Stats().Processed == int64(len(msgs))
	})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if d := dlqCount(t, js, top); d != 0 {
		t.Errorf("dead-letter subject holds %d messages, want 0", d)
	}
	if s := c.Stats(); s.DeadLettered != 0 || s.Retried != 0 {
		t.Errorf("stats %+v: want no retries and no dead letters", s)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := natsjs.New(natsjs.Config{}); err == nil || !strings.Contains(err.Error(), "JetStream") {
		t.Errorf("New without JetStream = %v, want an error naming it", err)
	}
	if _, _, err := natsjs.Declare(context.Background(), nil, natsjs.Topology{}); err == nil || !strings.Contains(err.Error(), "Stream") {
		t.Errorf("Declare without a stream = %v, want an error naming Stream", err)
	}
}
