// Package rabbitmq is a leveemq source over a RabbitMQ queue
// (github.com/rabbitmq/amqp091-go).
//
// Topology, declared by [Declare]: the work queue Q dead-letters into the
// direct exchange Q.dlx, bound to the queue Q.dlq; the queue Q.retry holds
// retried messages for their delay (a per-message expiration) and then
// dead-letters them back into Q through the default exchange. A retried or
// dead-lettered message is republished (with publisher confirms) and only
// then acknowledged, so a crash in between yields a duplicate, which the
// consumer's store absorbs, never a loss. Dead-lettered messages carry the
// headers leveemq.HeaderReason and leveemq.HeaderAttempts.
//
// Per-message expiration in a classic queue applies at its head: a retry
// with a long delay holds back shorter ones queued behind it. Retry delays
// are short and alike (one backoff), so this rarely matters.
//
// Messages are identified by their AMQP message-id property; a message
// without one is dead-lettered.
package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/levee-go/levee/leveemq"
	amqp "github.com/rabbitmq/amqp091-go"
)

// HeaderDelivery counts how often the consumer returned a message to the
// queue, starting at 1 on the first delivery.
const HeaderDelivery = "x-levee-delivery"

// Topology names the queues and exchange around a work queue.
type Topology struct {
	// Queue is the work queue. Required.
	Queue string
	// RetryQueue holds retried messages for their delay. Empty means
	// Queue+".retry".
	RetryQueue string
	// DeadLetterExchange receives dead-lettered messages, routed with
	// Queue as the key. Empty means Queue+".dlx".
	DeadLetterExchange string
	// DeadLetterQueue is bound to DeadLetterExchange. Empty means
	// Queue+".dlq".
	DeadLetterQueue string
}

func (t Topology) resolve() (Topology, error) {
	if t.Queue == "" {
		return t, errors.New("rabbitmq: Topology.Queue is empty")
	}
	if t.RetryQueue == "" {
		t.RetryQueue = t.Queue + ".retry"
	}
	if t.DeadLetterExchange == "" {
		t.DeadLetterExchange = t.Queue + ".dlx"
	}
	if t.DeadLetterQueue == "" {
		t.DeadLetterQueue = t.Queue + ".dlq"
	}
	return t, nil
}

// Declare declares t's queues and exchange on ch, durable, and returns t
// with its defaults filled in.
func Declare(ch *amqp.Channel, t Topology) (Topology, error) {
	t, err := t.resolve()
	if err != nil {
		return t, err
	}
	if err := ch.ExchangeDeclare(t.DeadLetterExchange, amqp.ExchangeDirect, true, false, false, false, nil); err != nil {
		return t, fmt.Errorf("rabbitmq: declare exchange %q: %w", t.DeadLetterExchange, err)
	}
	if _, err := ch.QueueDeclare(t.DeadLetterQueue, true, false, false, false, nil); err != nil {
		return t, fmt.Errorf("rabbitmq: declare queue %q: %w", t.DeadLetterQueue, err)
	}
	if err := ch.QueueBind(t.DeadLetterQueue, t.Queue, t.DeadLetterExchange, false, nil); err != nil {
		return t, fmt.Errorf("rabbitmq: bind %q to %q: %w", t.DeadLetterQueue, t.DeadLetterExchange, err)
	}
	if _, err := ch.QueueDeclare(t.Queue, true, false, false, false, amqp.Table{
		"x-dead-letter-exchange": t.DeadLetterExchange,
	}); err != nil {
		return t, fmt.Errorf("rabbitmq: declare queue %q: %w", t.Queue, err)
	}
	if _, err := ch.QueueDeclare(t.RetryQueue, true, false, false, false, amqp.Table{
		"x-dead-letter-exchange":    "",
		"x-dead-letter-routing-key": t.Queue,
	}); err != nil {
		return t, fmt.Errorf("rabbitmq: declare queue %q: %w", t.RetryQueue, err)
	}
	return t, nil
}

// Delete deletes t's queues and exchange (for tests and teardown).
func Delete(ch *amqp.Channel, t Topology) error {
	t, err := t.resolve()
	if err != nil {
		return err
	}
	var errs []error
	for _, q := range []string{t.Queue, t.RetryQueue, t.DeadLetterQueue} {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			errs = append(errs, err)
		}
	}
	if err := ch.ExchangeDelete(t.DeadLetterExchange, false, false); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Config configures a [Source]. Conn and Topology.Queue are required.
type Config struct {
	// Conn is the connection; the source opens its own channel on it.
	Conn *amqp.Connection
	// Topology names the queues; see [Declare], which the source does not
	// call.
	Topology Topology
	// ConsumerTag names the consumer on the broker. Empty lets the library
	// choose.
	ConsumerTag string
}

// Source is a [leveemq.Source] consuming a RabbitMQ queue.
type Source struct {
	t    Topology
	tag  string
	ch   *amqp.Channel
	mu   sync.Mutex // guards deliveries (started lazily, after the first prefetch)
	dels <-chan amqp.Delivery
}

// New opens a channel on cfg.Conn in confirm mode and returns the source.
// Consumption starts on the first Receive, after the consumer set the
// prefetch.
func New(cfg Config) (*Source, error) {
	if cfg.Conn == nil {
		return nil, errors.New("rabbitmq: Config.Conn is nil")
	}
	t, err := cfg.Topology.resolve()
	if err != nil {
		return nil, err
	}
	ch, err := cfg.Conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: open channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("rabbitmq: confirm mode: %w", err)
	}
	return &Source{t: t, tag: cfg.ConsumerTag, ch: ch}, nil
}

// Close closes the source's channel; unacknowledged deliveries return to
// the queue.
func (s *Source) Close() error { return s.ch.Close() }

// SetPrefetch sets the channel's QoS prefetch count. The count is
// channel-wide (global QoS; the channel has this one consumer) because
// RabbitMQ applies a per-consumer count only to consumers started after it,
// and the consumer changes it while consuming when its limit changes.
// Quorum queues ignore a channel-wide count.
func (s *Source) SetPrefetch(n int) error { return s.ch.Qos(n, 0, true) }

// Receive returns the next delivery.
func (s *Source) Receive(ctx context.Context) (leveemq.Delivery, error) {
	s.mu.Lock()
	if s.dels == nil {
		dels, err := s.ch.ConsumeWithContext(context.WithoutCancel(ctx), s.t.Queue, s.tag, false, false, false, false, nil)
		if err != nil {
			s.mu.Unlock()
			return nil, fmt.Errorf("rabbitmq: consume %q: %w", s.t.Queue, err)
		}
		s.dels = dels
	}
	dels := s.dels
	s.mu.Unlock()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case d, ok := <-dels:
		if !ok {
			return nil, fmt.Errorf("rabbitmq: queue %q: %w", s.t.Queue, amqp.ErrClosed)
		}
		return &delivery{s: s, d: d}, nil
	}
}

type delivery struct {
	s *Source
	d amqp.Delivery
}

func (d *delivery) count() int {
	switch v := d.d.Headers[HeaderDelivery].(type) {
	case int32:
		return int(v)
	case int64:
		return int(v)
	case int:
		return v
	}
	return 1
}

func (d *delivery) Message() leveemq.Message {
	h := make(map[string]string, len(d.d.Headers))
	for k, v := range d.d.Headers {
		h[k] = fmt.Sprint(v)
	}
	return leveemq.Message{ID: d.d.MessageId, Body: d.d.Body, Attempt: d.count(), Headers: h}
}

func (d *delivery) Ack(context.Context) error { return d.d.Ack(false) }

// republish publishes a copy of the delivery with extra headers and waits
// for the broker's confirm, then acknowledges the original.
func (d *delivery) republish(ctx context.Context, exchange, key, expiration string, extra amqp.Table) error {
	h := amqp.Table{}
	for k, v := range d.d.Headers {
		h[k] = v
	}
	for k, v := range extra {
		h[k] = v
	}
	conf, err := d.s.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, amqp.Publishing{
		Headers: h, ContentType: d.d.ContentType, ContentEncoding: d.d.ContentEncoding,
		DeliveryMode: amqp.Persistent, CorrelationId: d.d.CorrelationId, ReplyTo: d.d.ReplyTo,
		Expiration: expiration, MessageId: d.d.MessageId, Timestamp: d.d.Timestamp, Type: d.d.Type,
		AppId: d.d.AppId, Body: d.d.Body,
	})
	if err != nil {
		return fmt.Errorf("rabbitmq: republish %q: %w", d.d.MessageId, err)
	}
	ok, err := conf.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("rabbitmq: confirm %q: %w", d.d.MessageId, err)
	}
	if !ok {
		return fmt.Errorf("rabbitmq: broker refused republished %q", d.d.MessageId)
	}
	return d.d.Ack(false)
}

func (d *delivery) Retry(ctx context.Context, delay time.Duration) error {
	ms := max(delay.Milliseconds(), 0)
	return d.republish(ctx, "", d.s.t.RetryQueue, strconv.FormatInt(ms, 10), amqp.Table{HeaderDelivery: int64(d.count() + 1)})
}

func (d *delivery) DeadLetter(ctx context.Context, reason string, attempts int) error {
	return d.republish(ctx, d.s.t.DeadLetterExchange, d.s.t.Queue, "", amqp.Table{
		leveemq.HeaderReason: reason, leveemq.HeaderAttempts: int64(attempts),
	})
}

var (
	_ leveemq.Source   = (*Source)(nil)
	_ leveemq.Delivery = (*delivery)(nil)
)
