package natsjs_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/levee-go/levee/leveemq/natsjs"
	"github.com/levee-go/levee/leveemq/redisstore"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

const natsURL = "nats://127.0.0.1:4222"

// missing fails the test under CI and skips it elsewhere.
func missing(t *testing.T, what string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is required under CI: %v", what, err)
	}
	t.Skipf("%s not available (%v); start it to run this test", what, err)
}

// connect returns a connection and its JetStream context; the connection
// is closed when the test ends.
func connect(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(natsURL, nats.Timeout(2*time.Second), nats.MaxReconnects(0))
	if err != nil {
		missing(t, "NATS with JetStream on 127.0.0.1:4222", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		missing(t, "JetStream (nats-server -js) on 127.0.0.1:4222", err)
	}
	return nc, js
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

// unique returns a name no other test run uses (letters, digits, dashes).
func unique(t *testing.T) string {
	return strings.ReplaceAll(fmt.Sprintf("levee-test-%s-%d-%d", t.Name(), os.Getpid(), seq.Add(1)), "/", "-")
}

// topology declares a fresh stream and durable consumer, deleted when the
// test ends.
func topology(t *testing.T, js jetstream.JetStream, ackWait time.Duration) natsjs.Topology {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, top, err := natsjs.Declare(ctx, js, natsjs.Topology{Stream: unique(t), AckWait: ackWait})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		nc, err := nats.Connect(natsURL)
		if err != nil {
			return
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return
		}
		_ = js.DeleteStream(context.Background(), top.Stream)
	})
	return top
}

// source builds a source on js for top's durable consumer.
func source(t *testing.T, js jetstream.JetStream, top natsjs.Topology) *natsjs.Source {
	t.Helper()
	c, err := js.Consumer(context.Background(), top.Stream, top.Durable)
	if err != nil {
		t.Fatal(err)
	}
	src, err := natsjs.New(natsjs.Config{JetStream: js, Consumer: c, DeadLetterSubject: top.DeadLetterSubject})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

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

func publish(t *testing.T, js jetstream.JetStream, subject string, ids ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, id := range ids {
		m := nats.NewMsg(subject)
		m.Data = []byte("body of " + id)
		m.Header.Set(nats.MsgIdHdr, id)
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatalf("publish %s: %v", id, err)
		}
	}
}

// deadLetters returns the messages stored on top's dead-letter subject.
func deadLetters(t *testing.T, js jetstream.JetStream, top natsjs.Topology) []jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.OrderedConsumer(ctx, top.Stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{top.DeadLetterSubject}})
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	batch, err := c.FetchNoWait(100)
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		out = append(out, m)
	}
	return out
}

// dlqCount returns how many messages the stream holds on the dead-letter
// subject.
func dlqCount(t *testing.T, js jetstream.JetStream, top natsjs.Topology) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), top.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(top.DeadLetterSubject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[top.DeadLetterSubject]
}

// settled reports whether the durable consumer has nothing pending or
// unacknowledged.
func settled(t *testing.T, js jetstream.JetStream, top natsjs.Topology) bool {
	t.Helper()
	c, err := js.Consumer(context.Background(), top.Stream, top.Durable)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.NumPending == 0 && info.NumAckPending == 0
}

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
