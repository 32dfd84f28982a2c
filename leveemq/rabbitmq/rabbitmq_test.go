package rabbitmq_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/concurrency"
	"github.com/levee-go/levee/leveemq"
	"github.com/levee-go/levee/leveemq/rabbitmq"
	"github.com/levee-go/levee/leveemq/redisstore"
	"github.com/levee-go/levee/retry"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
)

func newSource(t *testing.T, conn *amqp.Connection, top rabbitmq.Topology) *rabbitmq.Source {
	t.Helper()
	src, err := rabbitmq.New(rabbitmq.Config{Conn: conn, Topology: top})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

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
// not acknowledged, is replaced by a new one: every message's effect is
// applied exactly once, and the redelivered ones are recognised as done.
func TestKilledConsumerRestartedAppliesEachEffectOnce(t *testing.T) {
	rdb := redisClient(t)
	st, prefix := store(t, rdb)
	effects := prefix + "effects"
	apply := st.Handler(func(ctx context.Context, m leveemq.Message, p redis.Pipeliner) error {
		p.HIncrBy(ctx, effects, m.ID, 1)
		return nil
	})
	killAndRestart(t, st, apply, func() map[string]string {
		return rdb.HGetAll(context.Background(), effects).Val()
	})
}

// The same with the PostgreSQL store: the effect is a row written in the
// handler's own transaction, with the done mark.
func TestKilledConsumerRestartedAppliesEachEffectOncePostgres(t *testing.T) {
	st, pool, table := pgStore(t)
	effects := table + "_effects"
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "CREATE TABLE "+effects+" (id text)"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+effects) })
	apply := st.Handler(func(ctx context.Context, m leveemq.Message, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO "+effects+" VALUES ($1)", m.ID)
		return err
	})
	killAndRestart(t, st, apply, func() map[string]string {
		rows, err := pool.Query(ctx, "SELECT id, count(*)::text FROM "+effects+" GROUP BY id")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for rows.Next() {
			var id, n string
			if err := rows.Scan(&id, &n); err != nil {
				t.Fatal(err)
			}
			out[id] = n
		}
		return out
	})
}

// killAndRestart publishes 40 messages, runs a consumer with apply whose
// connection is closed right after its 10th effect commits, then a second
// consumer until every message has an effect, and checks that effects
// (message id → times applied) holds exactly one per message.
func killAndRestart(t *testing.T, st leveemq.Store, apply leveemq.Handler, effects func() map[string]string) {
	t.Helper()
	conn0 := dial(t)
	top := topology(t, conn0)
	const n = 40
	all := ids("m", n)
	publish(t, conn0, top.Queue, all...)

	conn1, err := amqp.Dial(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	var committed atomic.Int64
	var kill sync.Once
	c1, err := leveemq.New(leveemq.Config{
		Source: newSource(t, conn1, top), Store: st, Concurrency: bulkhead(t, 4), Lease: time.Second,
		Handler: func(ctx context.Context, m leveemq.Message) error {
			err := apply(ctx, m)
			if err == nil && committed.Add(1) >= 10 {
				kill.Do(func() { _ = conn1.Close() })
			}
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c1.Run(ctx); err == nil {
		t.Fatal("first consumer: Run returned nil, want the closed connection's error")
	}
	if committed.Load() < 10 {
		t.Fatalf("first consumer committed %d effects before the kill, want at least 10", committed.Load())
	}

	conn2 := dial(t)
	c2, err := leveemq.New(leveemq.Config{
		Source: newSource(t, conn2, top), Store: st, Concurrency: bulkhead(t, 4), Lease: time.Second,
		Handler: apply,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c2.Run(ctx2) }()
	eventually(t, 15*time.Second, "all effects and an empty queue", func() bool {
		return len(effects()) == n && depth(t, conn0, top.Queue) == 0 && depth(t, conn0, top.RetryQueue) == 0
	})
	cancel2()
	if err := <-done; err != nil {
		t.Fatalf("second consumer: Run = %v", err)
	}

	got := effects()
	for _, id := range all {
		if got[id] != "1" {
			t.Errorf("message %s: effect applied %q times, want 1", id, got[id])
		}
	}
	s := c2.Stats()
	if s.Duplicates < 1 {
		t.Errorf("second consumer saw %d duplicates, want at least 1 (the message whose ack the kill lost)", s.Duplicates)
	}
	if int(s.Processed+s.Duplicates) < n-int(committed.Load()) {
		t.Errorf("second consumer stats %+v do not cover the %d messages left", s, n-int(committed.Load()))
	}
	if d := depth(t, conn0, top.DeadLetterQueue); d != 0 {
		t.Errorf("dead-letter queue holds %d messages, want 0", d)
	}
}

// A message that always fails is dead-lettered after MaxAttempts with its
// reason attached, while the others are processed.
func TestPoisonMessageDeadLetteredWithReason(t *testing.T) {
	rdb := redisClient(t)
	conn := dial(t)
	top := topology(t, conn)
	st, _ := store(t, rdb)
	good := ids("ok", 10)
	publish(t, conn, top.Queue, append([]string{"poison"}, good...)...)

	var mu sync.Mutex
	calls := map[string]int{}
	c, err := leveemq.New(leveemq.Config{
		Source: newSource(t, conn, top), Store: st, MaxAttempts: 3, Backoff: fastBackoff(t),
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
	eventually(t, 15*time.Second, "the poison message in the dead-letter queue", func() bool {
		return depth(t, conn, top.DeadLetterQueue) == 1 && c.Stats().Processed == int64(len(good))
	})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}

	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	d, ok, err := ch.Get(top.DeadLetterQueue, true)
	if err != nil || !ok {
		t.Fatalf("get from dead-letter queue: ok=%v err=%v", ok, err)
	}
	if d.MessageId != "poison" {
		t.Errorf("dead-lettered message %q, want poison", d.MessageId)
	}
	if r, _ := d.Headers[leveemq.HeaderReason].(string); !strings.Contains(r, "cannot parse body") {
		t.Errorf("header %s = %q, want the handler's error", leveemq.HeaderReason, r)
	}
	if a, _ := d.Headers[leveemq.HeaderAttempts].(int64); a != 3 {
		t.Errorf("header %s = %v, want 3", leveemq.HeaderAttempts, d.Headers[leveemq.HeaderAttempts])
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

// While the dependency's breaker is open the consumer returns messages
// without counting attempts: none is dead-lettered, even with MaxAttempts
// 1, and all are processed once the breaker closes.
func TestOpenBreakerPausesInsteadOfDeadLettering(t *testing.T) {
	rdb := redisClient(t)
	conn := dial(t)
	top := topology(t, conn)
	st, _ := store(t, rdb)
	msgs := ids("b", 10)
	publish(t, conn, top.Queue, msgs...)

	br, err := breaker.New(breaker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	br.ForceOpen()
	var calls atomic.Int64
	c, err := leveemq.New(leveemq.Config{
		Source: newSource(t, conn, top), Store: st, MaxAttempts: 1, Backoff: fastBackoff(t),
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
	if d := depth(t, conn, top.DeadLetterQueue); d != 0 {
		t.Errorf("dead-letter queue holds %d messages while the breaker is open, want 0", d)
	}

	br.Reset()
	eventually(t, 10*time.Second, "all messages processed after the breaker closed", func() bool {
		return c.Stats().Processed == int64(len(msgs))
	})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if d := depth(t, conn, top.DeadLetterQueue); d != 0 {
		t.Errorf("dead-letter queue holds %d messages, want 0", d)
	}
	if s := c.Stats(); s.DeadLettered != 0 || s.Retried != 0 {
		t.Errorf("stats %+v: want no retries and no dead letters", s)
	}
}

// With the deduplication store unreachable the consumer neither runs the
// handler (it could not record the effect) nor dead-letters: it returns
// the messages and pauses.
func TestStoreDownReturnsMessagesUnprocessed(t *testing.T) {
	conn := dial(t)
	top := topology(t, conn)
	publish(t, conn, top.Queue, ids("s", 5)...)
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer down.Close()
	st, err := redisstore.New(redisstore.Config{Client: down})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	c, err := leveemq.New(leveemq.Config{
		Source: newSource(t, conn, top), Store: st, MaxAttempts: 1, Pause: 20 * time.Millisecond,
		Handler: func(context.Context, leveemq.Message) error { calls.Add(1); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	eventually(t, 10*time.Second, "messages returned while the store is down", func() bool {
		return c.Stats().Returned >= 10
	})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("handler ran %d times without a store, want 0", n)
	}
	if d := depth(t, conn, top.DeadLetterQueue); d != 0 {
		t.Errorf("dead-letter queue holds %d messages, want 0", d)
	}
	if s := c.Stats(); s.DeadLettered != 0 || s.Processed != 0 {
		t.Errorf("stats %+v: want nothing processed or dead-lettered", s)
	}
}
