// Package natsjs is a leveemq source over a NATS JetStream durable pull
// consumer (github.com/nats-io/nats.go/jetstream).
//
// Retries are negative acknowledgements with a delay (NakWithDelay);
// dead-lettered messages are published, with the headers
// leveemq.HeaderReason and leveemq.HeaderAttempts and their original
// headers, to a dead-letter subject (stored by a stream, [Declare] puts it
// in the work stream) and then terminated. Messages are identified by their
// Nats-Msg-Id header (which JetStream also deduplicates on publish), or by
// their stream sequence when they have none.
//
// JetStream counts every delivery, including returns made while the
// consumer's dependency refuses, so the consumer's attempts are counted in
// its store and the durable consumer's MaxDeliver is left unlimited by
// [Declare] (a finite MaxDeliver drops a message silently when reached).
package natsjs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/levee-go/levee/leveemq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Topology names a work stream and its durable consumer.
type Topology struct {
	// Stream is the stream's name. Required.
	Stream string
	// Subject is the work subject. Empty means Stream+".work".
	Subject string
	// DeadLetterSubject receives dead-lettered messages. Empty means
	// Stream+".dlq".
	DeadLetterSubject string
	// Durable names the durable consumer. Empty means Stream+"-consumer".
	Durable string
	// AckWait is how long the server waits for an acknowledgement before
	// redelivering (a killed consumer's messages come back after it). Zero
	// means 30s.
	AckWait time.Duration
	// MaxDeliver bounds deliveries per message; see the package
	// documentation. Zero means unlimited (-1).
	MaxDeliver int
}

func (t Topology) resolve() (Topology, error) {
	if t.Stream == "" {
		return t, errors.New("natsjs: Topology.Stream is empty")
	}
	if t.Subject == "" {
		t.Subject = t.Stream + ".work"
	}
	if t.DeadLetterSubject == "" {
		t.DeadLetterSubject = t.Stream + ".dlq"
	}
	if t.Durable == "" {
		t.Durable = t.Stream + "-consumer"
	}
	if t.AckWait == 0 {
		t.AckWait = 30 * time.Second
	}
	if t.MaxDeliver == 0 {
		t.MaxDeliver = -1
	}
	return t, nil
}

// Declare creates (or updates) the stream holding t's work and dead-letter
// subjects and its durable consumer of the work subject, and returns the
// consumer and t with its defaults filled in.
func Declare(ctx context.Context, js jetstream.JetStream, t Topology) (jetstream.Consumer, Topology, error) {
	t, err := t.resolve()
	if err != nil {
		return nil, t, err
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: t.Stream, Subjects: []string{t.Subject, t.DeadLetterSubject},
	}); err != nil {
		return nil, t, fmt.Errorf("natsjs: stream %q: %w", t.Stream, err)
	}
	c, err := js.CreateOrUpdateConsumer(ctx, t.Stream, jetstream.ConsumerConfig{
		Durable: t.Durable, FilterSubject: t.Subject, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: t.AckWait, MaxDeliver: t.MaxDeliver,
	})
	if err != nil {
		return nil, t, fmt.Errorf("natsjs: consumer %q on %q: %w", t.Durable, t.Stream, err)
	}
	return c, t, nil
}

// Config configures a [Source]. All fields are required.
type Config struct {
	// JetStream publishes dead letters.
	JetStream jetstream.JetStream
	// Consumer is the durable pull consumer to take messages from.
	Consumer jetstream.Consumer
	// DeadLetterSubject receives dead-lettered messages; a stream must
	// store it.
	DeadLetterSubject string
}

// Source is a [leveemq.Source] over a JetStream pull consumer.
type Source struct {
	js       jetstream.JetStream
	cons     jetstream.Consumer
	dlq      string
	mu       sync.Mutex
	prefetch int
	it       jetstream.MessagesContext
	itSize   int
	draining bool
}

// New returns the source.
func New(cfg Config) (*Source, error) {
	switch {
	case cfg.JetStream == nil:
		return nil, errors.New("natsjs: Config.JetStream is nil")
	case cfg.Consumer == nil:
		return nil, errors.New("natsjs: Config.Consumer is nil")
	case cfg.DeadLetterSubject == "":
		return nil, errors.New("natsjs: Config.DeadLetterSubject is empty")
	}
	return &Source{js: cfg.JetStream, cons: cfg.Consumer, dlq: cfg.DeadLetterSubject, prefetch: 1}, nil
}

// SetPrefetch sets how many messages each pull asks for. A change takes
// effect once the messages already pulled are received.
func (s *Source) SetPrefetch(n int) error {
	if n < 1 {
		return fmt.Errorf("natsjs: prefetch %d, want at least 1", n)
	}
	s.mu.Lock()
	s.prefetch = n
	s.mu.Unlock()
	return nil
}

// Stop stops pulling; messages pulled and not settled are redelivered after
// the consumer's AckWait.
func (s *Source) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.it != nil {
		s.it.Stop()
	}
}

// Receive returns the next message. Only one goroutine may call it at a
// time (leveemq.Consumer does).
func (s *Source) Receive(ctx context.Context) (leveemq.Delivery, error) {
	for {
		s.mu.Lock()
		if s.it == nil {
			it, err := s.cons.Messages(jetstream.PullMaxMessages(s.prefetch))
			if err != nil {
				s.mu.Unlock()
				return nil, fmt.Errorf("natsjs: pull: %w", err)
			}
			s.it, s.itSize, s.draining = it, s.prefetch, false
		} else if s.itSize != s.prefetch && !s.draining {
			s.it.Drain()
			s.draining = true
		}
		it := s.it
		s.mu.Unlock()
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err == nil {
			return &delivery{s: s, m: msg}, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			s.mu.Lock()
			resize := s.it == it && s.draining
			if resize {
				s.it = nil
			}
			s.mu.Unlock()
			if resize {
				continue
			}
		}
		return nil, fmt.Errorf("natsjs: next: %w", err)
	}
}

type delivery struct {
	s *Source
	m jetstream.Msg
}

func (d *delivery) Message() leveemq.Message {
	m := leveemq.Message{Body: d.m.Data(), Attempt: 1, Headers: map[string]string{}}
	for k, v := range d.m.Headers() {
		if len(v) > 0 {
			m.Headers[k] = v[0]
		}
	}
	m.ID = d.m.Headers().Get(nats.MsgIdHdr)
	if meta, err := d.m.Metadata(); err == nil {
		m.Attempt = int(meta.NumDelivered)
		if m.ID == "" {
			m.ID = meta.Stream + ":" + strconv.FormatUint(meta.Sequence.Stream, 10)
		}
	}
	return m
}

func (d *delivery) Ack(ctx context.Context) error { return d.m.DoubleAck(ctx) }

func (d *delivery) Retry(_ context.Context, delay time.Duration) error {
	return d.m.NakWithDelay(delay)
}

func (d *delivery) DeadLetter(ctx context.Context, reason string, attempts int) error {
	out := nats.NewMsg(d.s.dlq)
	out.Data = d.m.Data()
	for k, v := range d.m.Headers() {
		if k == nats.MsgIdHdr {
			continue // would be deduplicated against the original
		}
		out.Header[k] = v
	}
	if id := d.m.Headers().Get(nats.MsgIdHdr); id != "" {
		out.Header.Set("x-levee-message-id", id)
	}
	out.Header.Set(leveemq.HeaderReason, reason)
	out.Header.Set(leveemq.HeaderAttempts, strconv.Itoa(attempts))
	if _, err := d.s.js.PublishMsg(ctx, out); err != nil {
		return fmt.Errorf("natsjs: publish dead letter to %q: %w", d.s.dlq, err)
	}
	return d.m.Term()
}

var (
	_ leveemq.Source   = (*Source)(nil)
	_ leveemq.Delivery = (*delivery)(nil)
)
