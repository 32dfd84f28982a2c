package rabbitmq_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/levee-go/levee/leveemq/pgstore"
	"github.com/levee-go/levee/leveemq/rabbitmq"
	"github.com/levee-go/levee/leveemq/redisstore"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
)

const amqpURL = "amqp://guest:guest@127.0.0.1:5672/"

// missing fails the test under CI and skips it elsewhere.
func missing(t *testing.T, what string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is required under CI: %v", what, err)
	}
	t.Skipf("%s not available (%v); start it to run this test", what, err)
}

func dial(t *testing.T) *amqp.Connection {
	t.Helper()
	conn, err := amqp.DialConfig(amqpURL, amqp.Config{Dial: amqp.DefaultDial(2 * time.Second)})
	if err != nil {
		missing(t, "RabbitMQ on 127.0.0.1:5672 (guest/guest)", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		missing(t, "Redis on 127.0.0.1:6379", err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

var seq atomic.Int64

// unique returns a name no other test run uses.
func unique(t *testing.T) string {
	return fmt.Sprintf("levee-test-%s-%d-%d", t.Name(), os.Getpid(), seq.Add(1))
}

// topology declares a fresh topology, deleted when the test ends.
func topology(t *testing.T, conn *amqp.Connection) rabbitmq.Topology {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	top, err := rabbitmq.Declare(ch, rabbitmq.Topology{Queue: unique(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := amqp.Dial(amqpURL)
		if err != nil {
			return
		}
		defer c.Close()
		ch, err := c.Channel()
		if err != nil {
			return
		}
		_ = rabbitmq.Delete(ch, top)
	})
	_ = ch.Close()
	return top
}

// store returns a Redis store under a fresh prefix, purged when the test
// ends.
func store(t *testing.T, rdb *redis.Client) (*redisstore.Store, string) {
	t.Helper()
	prefix := unique(t) + ":"
	s, err := redisstore.New(redisstore.Config{Client: rdb, Prefix: prefix, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return s, prefix
}

func publish(t *testing.T, conn *amqp.Connection, queue string, ids ...string) {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, id := range ids {
		c, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, true, false, amqp.Publishing{
			MessageId: id, Body: []byte("body of " + id), DeliveryMode: amqp.Persistent,
		})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := c.WaitContext(ctx); !ok || err != nil {
			t.Fatalf("publish %s: confirmed=%v err=%v", id, ok, err)
		}
	}
}

// depth returns the ready messages in queue.
func depth(t *testing.T, conn *amqp.Connection, queue string) int {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q.Messages
}

// eventually polls cond every 20ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return out
}

// pgStore returns a PostgreSQL store on a fresh table of the database test,
// dropped when the test ends.
func pgStore(t *testing.T) (*pgstore.Store, *pgxpool.Pool, string) {
	t.Helper()
	var errs []string
	for _, u := range []string{
		"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
		"postgres://root@127.0.0.1:5432/test?sslmode=disable",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		pool, err := pgxpool.New(ctx, u)
		if err == nil {
			err = pool.Ping(ctx)
		}
		cancel()
		if err != nil {
			if pool != nil {
				pool.Close()
			}
			errs = append(errs, err.Error())
			continue
		}
		table := fmt.Sprintf("leveemq_t_%d_%d", os.Getpid(), seq.Add(1)) // under 63 bytes
		s, err := pgstore.New(pgstore.Config{Pool: pool, Table: table})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateTable(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+table)
			pool.Close()
		})
		return s, pool, table
	}
	missing(t, "PostgreSQL on 127.0.0.1:5432 (database test)", errors.New(strings.Join(errs, "; ")))
	return nil, nil, ""
}
