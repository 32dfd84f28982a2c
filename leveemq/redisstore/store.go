// Package redisstore keeps a leveemq deduplication store in Redis.
//
// Per message id it keeps three keys sharing the hash tag {id}: a done
// mark, a lease (SET NX PX, so one consumer at a time processes the
// message and a dead consumer's claim expires) and a failure count. Done
// marks and failure counts expire after [Config.TTL], which must outlast
// the broker's redelivery horizon.
//
// [Store.Handler] lets a handler whose effects are Redis writes queue them
// in the same MULTI/EXEC transaction as the done mark, watched on the mark:
// the effect is applied exactly once however often the message is
// delivered, even when a consumer dies between the effect and the
// acknowledgement.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/levee-go/levee/leveemq"
	"github.com/redis/go-redis/v9"
)

// DefaultTTL is how long done marks and failure counts are kept by default.
const DefaultTTL = 24 * time.Hour

// Config configures a [Store]. Client is required.
type Config struct {
	// Client is the Redis client (single node, or a cluster: the keys of
	// one message share a hash slot).
	Client redis.UniversalClient
	// Prefix starts every key. Empty means "leveemq:".
	Prefix string
	// TTL is how long done marks and failure counts live. Zero means
	// [DefaultTTL]; negative is refused.
	TTL time.Duration
}

// Store is a [leveemq.Store] in Redis.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

// New returns a store configured by cfg, or an error naming the first
// invalid field.
func New(cfg Config) (*Store, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("redisstore: Config.Client is nil")
	case cfg.TTL < 0:
		return nil, fmt.Errorf("redisstore: Config.TTL = %v, want 0 (default %v) or more", cfg.TTL, DefaultTTL)
	}
	s := &Store{rdb: cfg.Client, prefix: cfg.Prefix, ttl: cfg.TTL}
	if s.prefix == "" {
		s.prefix = "leveemq:"
	}
	if s.ttl == 0 {
		s.ttl = DefaultTTL
	}
	return s, nil
}

func (s *Store) keys(id string) (done, lease, fails string) {
	base := s.prefix + "{" + id + "}:"
	return base + "done", base + "lease", base + "fails"
}

// DoneKey returns the key of id's done mark, for inspection.
func (s *Store) DoneKey(id string) string { d, _, _ := s.keys(id); return d }

var beginScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return {1, 0} end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return {0, 0} end
return {2, redis.call('PTTL', KEYS[2])}
`)

// Begin claims id for lease; see [leveemq.Store.Begin].
func (s *Store) Begin(ctx context.Context, id string, lease time.Duration) (leveemq.Claim, time.Duration, error) {
	done, l, _ := s.keys(id)
	res, err := beginScript.Run(ctx, s.rdb, []string{done, l}, max(lease.Milliseconds(), 1)).Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("redisstore: begin %q: %w", id, err)
	}
	if len(res) != 2 {
		return 0, 0, fmt.Errorf("redisstore: begin %q: unexpected reply %v", id, res)
	}
	return leveemq.Claim(res[0]), time.Duration(max(res[1], 0)) * time.Millisecond, nil
}

// Done marks id done; see [leveemq.Store.Done].
func (s *Store) Done(ctx context.Context, id string) error {
	done, l, f := s.keys(id)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, done, "1", s.ttl)
		p.Del(ctx, l, f)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisstore: done %q: %w", id, err)
	}
	return nil
}

var failScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return n
`)

// Fail counts a failed attempt; see [leveemq.Store.Fail].
func (s *Store) Fail(ctx context.Context, id string) (int, error) {
	_, l, f := s.keys(id)
	n, err := failScript.Run(ctx, s.rdb, []string{f, l}, s.ttl.Milliseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("redisstore: fail %q: %w", id, err)
	}
	return int(n), nil
}

// Release drops the lease on id; see [leveemq.Store.Release].
func (s *Store) Release(ctx context.Context, id string) error {
	_, l, _ := s.keys(id)
	if err := s.rdb.Del(ctx, l).Err(); err != nil {
		return fmt.Errorf("redisstore: release %q: %w", id, err)
	}
	return nil
}

// Forget drops the lease and failure count of id; see [leveemq.Store.Forget].
func (s *Store) Forget(ctx context.Context, id string) error {
	_, l, f := s.keys(id)
	if err := s.rdb.Del(ctx, l, f).Err(); err != nil {
		return fmt.Errorf("redisstore: forget %q: %w", id, err)
	}
	return nil
}

// Purge deletes every key of id (done mark, lease, failures), for tests and
// operators replaying a message on purpose.
func (s *Store) Purge(ctx context.Context, id string) error {
	d, l, f := s.keys(id)
	return s.rdb.Del(ctx, d, l, f).Err()
}

// maxTxTries bounds the optimistic-transaction retries of [Store.Handler].
const maxTxTries = 5

// Handler returns a leveemq.Handler that runs h inside a Redis transaction
// together with the done mark of the message: the Redis commands h queues
// on p are applied with the mark, atomically, and only if the message is
// not done yet (the mark is watched). h must not read through p (replies
// arrive only after the transaction); it may read through the client. When
// h returns an error nothing it queued is applied.
func (s *Store) Handler(h func(ctx context.Context, m leveemq.Message, p redis.Pipeliner) error) leveemq.Handler {
	return func(ctx context.Context, m leveemq.Message) error {
		done, _, _ := s.keys(m.ID)
		for range maxTxTries {
			err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
				n, err := tx.Exists(ctx, done).Result()
				if err != nil {
					return err
				}
				if n == 1 {
					return nil // applied by an earlier delivery
				}
				_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
					if err := h(ctx, m, p); err != nil {
						return err
					}
					p.Set(ctx, done, "1", s.ttl)
					return nil
				})
				return err
			}, done)
			if !errors.Is(err, redis.TxFailedErr) {
				return err
			}
		}
		return fmt.Errorf("redisstore: message %q: done mark kept changing (%d tries)", m.ID, maxTxTries)
	}
}

// String describes the store.
func (s *Store) String() string { return "redisstore(prefix=" + strconv.Quote(s.prefix) + ")" }

var _ leveemq.Store = (*Store)(nil)
