package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/levee-go/levee/leveemq"
	"github.com/levee-go/levee/leveemq/redisstore"
	"github.com/redis/go-redis/v9"
)

func newStore(t *testing.T) (*redisstore.Store, *redis.Client, string) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis on 127.0.0.1:6379 is required under CI: %v", err)
		}
		t.Skipf("Redis on 127.0.0.1:6379 not available (%v); start it to run this test", err)
	}
	prefix := fmt.Sprintf("levee-test-%s-%d:", t.Name(), os.Getpid())
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		_ = rdb.Close()
	})
	s, err := redisstore.New(redisstore.Config{Client: rdb, Prefix: prefix, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return s, rdb, prefix
}

func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := redisstore.New(redisstore.Config{}); err == nil {
		t.Error("New without a client: nil error")
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	if _, err := redisstore.New(redisstore.Config{Client: rdb, TTL: -time.Second}); err == nil {
		t.Error("New with a negative TTL: nil error")
	}
}

func TestClaimLifecycle(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	c, _, err := s.Begin(ctx, "a", time.Minute)
	if err != nil || c != leveemq.Claimed {
		t.Fatalf("first Begin = %v, %v; want claimed", c, err)
	}
	c, left, err := s.Begin(ctx, "a", time.Minute)
	if err != nil || c != leveemq.Busy || left <= 0 || left > time.Minute {
		t.Fatalf("second Begin = %v, %v, %v; want busy with up to a minute left", c, left, err)
	}
	for want := 1; want <= 2; want++ {
		n, err := s.Fail(ctx, "a")
		if err != nil || n != want {
			t.Fatalf("Fail = %d, %v; want %d", n, err, want)
		}
		// Fail dropped the lease: the message can be claimed again.
		if c, _, err := s.Begin(ctx, "a", time.Minute); err != nil || c != leveemq.Claimed {
			t.Fatalf("Begin after Fail = %v, %v; want claimed", c, err)
		}
	}
	if err := s.Release(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Fail(ctx, "a"); n != 3 {
		t.Errorf("Release reset the failure count: Fail = %d, want 3", n)
	}
	if err := s.Forget(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Fail(ctx, "a"); n != 1 {
		t.Errorf("after Forget, Fail = %d, want 1", n)
	}
	if err := s.Done(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if c, _, err := s.Begin(ctx, "a", time.Minute); err != nil || c != leveemq.AlreadyDone {
		t.Fatalf("Begin after Done = %v, %v; want already-done", c, err)
	}
}

func TestLeaseExpires(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	if c, _, _ := s.Begin(ctx, "b", 30*time.Millisecond); c != leveemq.Claimed {
		t.Fatalf("Begin = %v, want claimed", c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, _, err := s.Begin(ctx, "b", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if c == leveemq.Claimed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a dead consumer's lease never expired")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHandlerAppliesEffectOnceAndNothingOnError(t *testing.T) {
	s, rdb, prefix := newStore(t)
	ctx := context.Background()
	counter := prefix + "counter"
	fail := errors.New("refused")
	var failing bool
	h := s.Handler(func(ctx context.Context, m leveemq.Message, p redis.Pipeliner) error {
		p.Incr(ctx, counter)
		if failing {
			return fail
		}
		return nil
	})
	failing = true
	if err := h(ctx, leveemq.Message{ID: "c"}); !errors.Is(err, fail) {
		t.Fatalf("failing handler = %v, want %v", err, fail)
	}
	if v := rdb.Get(ctx, counter).Val(); v != "" {
		t.Fatalf("failing handler applied its effect: counter = %q", v)
	}
	failing = false
	for range 3 {
		if err := h(ctx, leveemq.Message{ID: "c"}); err != nil {
			t.Fatal(err)
		}
	}
	if v := rdb.Get(ctx, counter).Val(); v != "1" {
		t.Fatalf("counter = %q after three deliveries, want 1", v)
	}
	if c, _, _ := s.Begin(ctx, "c", time.Minute); c != leveemq.AlreadyDone {
		t.Errorf("Begin after the handler = %v, want already-done", c)
	}
}
