package natsjs_test

import (
	"context"
	"log"
	"os/signal"
	"syscall"
	"time"

	"github.com/levee-go/levee/leveemq"
	"github.com/levee-go/levee/leveemq/natsjs"
	"github.com/levee-go/levee/leveemq/redisstore"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

// A JetStream consumer of "orders.work" that dead-letters to "orders.dlq"
// after 5 failures and drains on SIGTERM.
func Example() {
	nc, err := nats.Connect("nats://127.0.0.1:4222")
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cons, top, err := natsjs.Declare(ctx, js, natsjs.Topology{Stream: "orders", AckWait: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	src, err := natsjs.New(natsjs.Config{JetStream: js, Consumer: cons, DeadLetterSubject: top.DeadLetterSubject})
	if err != nil {
		log.Fatal(err)
	}
	store, err := redisstore.New(redisstore.Config{Client: redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})})
	if err != nil {
		log.Fatal(err)
	}
	consumer, err := leveemq.New(leveemq.Config{
		Source: src, Store: store, MaxAttempts: 5,
		Handler: func(ctx context.Context, m leveemq.Message) error {
			log.Printf("order %s: %s", m.ID, m.Body)
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Run returns once SIGTERM arrived and the orders in flight are settled.
	if err := consumer.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
