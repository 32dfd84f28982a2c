package leveemq

import (
	"context"
	"time"
)

// Message is one message as the handler sees it.
type Message struct {
	// ID identifies the message for deduplication: the same logical message
	// redelivered or republished carries the same ID. A message without an
	// ID is dead-lettered, since it cannot be processed at most once.
	ID string
	// Body is the payload.
	Body []byte
	// Attempt is the broker's delivery count for this message, starting at
	// 1, for information; the consumer counts attempts in its [Store].
	Attempt int
	// Headers are the message's headers, as strings.
	Headers map[string]string
}

// Delivery is one received message and the ways to settle it. The consumer
// settles every delivery exactly once with one of the three methods.
type Delivery interface {
	// Message returns the message.
	Message() Message
	// Ack removes the message from the source: it was processed (or it was
	// a duplicate of a processed message).
	Ack(ctx context.Context) error
	// Retry returns the message to the source to be delivered again after
	// delay.
	Retry(ctx context.Context, delay time.Duration) error
	// DeadLetter moves the message to the source's dead-letter destination
	// with reason attached (as the header [HeaderReason]) and attempts, the
	// failures counted, (as [HeaderAttempts]).
	DeadLetter(ctx context.Context, reason string, attempts int) error
}

// Source is a queue the consumer takes deliveries from.
type Source interface {
	// Receive blocks until a delivery arrives or ctx ends (then it returns
	// ctx's error). Any other error means the source is broken and ends
	// [Consumer.Run].
	Receive(ctx context.Context) (Delivery, error)
	// SetPrefetch sets how many unsettled deliveries the broker may push
	// to this consumer ahead of processing. The consumer calls it with its
	// concurrency limit, at start and whenever the limit changes.
	SetPrefetch(n int) error
}

// Handler processes one message. A nil error means the message's effect is
// applied; any other error is a failure, retried with backoff and
// dead-lettered after [Config.MaxAttempts]. An error wrapped with
// retry.NoRetry is dead-lettered at once; an error matching
// levee.ErrRejected (a breaker inside the handler refusing) returns the
// message without counting an attempt. ctx is not cancelled when the
// consumer drains, so the handler can finish.
type Handler func(ctx context.Context, m Message) error

// Header names the sources set on dead-lettered messages.
const (
	// HeaderReason carries why the message was dead-lettered: the last
	// handler error.
	HeaderReason = "x-levee-reason"
	// HeaderAttempts carries how many attempts failed.
	HeaderAttempts = "x-levee-attempts"
)
