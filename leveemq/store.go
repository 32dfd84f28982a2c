package leveemq

import (
	"context"
	"time"
)

// Claim is what [Store.Begin] found.
type Claim uint8

const (
	// Claimed: the message is not done and this consumer now holds its
	// lease; it runs the handler.
	Claimed Claim = iota
	// AlreadyDone: the message's effect is applied; the delivery is a
	// duplicate and is acknowledged without running the handler.
	AlreadyDone
	// Busy: another consumer holds a live lease on the message (it is being
	// processed, or its consumer died less than a lease ago); the delivery
	// is returned to the source until the lease ends.
	Busy
)

// String returns "claimed", "already-done" or "busy".
func (c Claim) String() string {
	switch c {
	case Claimed:
		return "claimed"
	case AlreadyDone:
		return "already-done"
	case Busy:
		return "busy"
	}
	return "unknown"
}

// Store remembers which messages are done, which are being processed and
// how often each failed, by message id. It is shared by every consumer of a
// queue (redisstore.Store keeps it in Redis).
type Store interface {
	// Begin claims id for lease. With [Busy] it also returns how long the
	// other lease has left.
	Begin(ctx context.Context, id string, lease time.Duration) (Claim, time.Duration, error)
	// Done marks id done and drops its lease and failure count. Calling it
	// for an id already done is harmless.
	Done(ctx context.Context, id string) error
	// Fail drops the lease on id and counts one failed attempt; it returns
	// the failures counted so far.
	Fail(ctx context.Context, id string) (int, error)
	// Release drops the lease on id without counting an attempt: the
	// message was returned unprocessed.
	Release(ctx context.Context, id string) error
	// Forget drops the lease and the failure count of id: the message was
	// dead-lettered, and a replay of it starts afresh.
	Forget(ctx context.Context, id string) error
}
