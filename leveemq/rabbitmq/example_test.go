package rabbitmq_test

import (
	"context"
	"log"
	"time"

	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/concurrency"
	"github.com/levee-go/levee/leveemq"
	"github.com/levee-go/levee/leveemq/rabbitmq"
	"github.com/levee-go/levee/leveemq/redisstore"
	"github.com/levee-go/levee/lifecycle"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
)

// A RabbitMQ consumer that credits accounts in Redis exactly once per
// message, at most 16 at a time, pausing while Redis's breaker is open,
// drained by the process lifecycle on SIGTERM.
func Example() {
	conn, err := amqp.Dial("amqp://guest:guest@127.0.0.1:5672/")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		log.Fatal(err)
	}
	top, err := rabbitmq.Declare(ch, rabbitmq.Topology{Queue: "payments"})
	if err != nil {
		log.Fatal(err)
	}
	src, err := rabbitmq.New(rabbitmq.Config{Conn: conn, Topology: top})
	if err != nil {
		log.Fatal(err)
	}

	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	store, err := redisstore.New(redisstore.Config{Client: rdb})
	if err != nil {
		log.Fatal(err)
	}
	redisBreaker, err := breaker.New(breaker.Config{Name: "redis"})
	if err != nil {
		log.Fatal(err)
	}
	limit, err := concurrency.NewBulkhead(concurrency.BulkheadConfig{MaxConcurrent: 16, MaxQueue: 1})
	if err != nil {
		log.Fatal(err)
	}
	consumer, err := leveemq.New(leveemq.Config{
		Source: src, Store: store, Concurrency: limit, Dependency: redisBreaker,
		MaxAttempts: 5, Lease: time.Minute,
		// The credit and the done mark commit in one transaction.
		Handler: store.Handler(func(ctx context.Context, m leveemq.Message, p redis.Pipeliner) error {
			p.IncrBy(ctx, "balance:"+m.Headers["account"], 100)
			return nil
		}),
	})
	if err != nil {
		log.Fatal(err)
	}

	lc, err := lifecycle.New(lifecycle.Config{Name: "payments"})
	if err != nil {
		log.Fatal(err)
	}
	if err := lc.Go("payments-consumer", consumer.Run); err != nil {
		log.Fatal(err)
	}
	if err := lc.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
}
