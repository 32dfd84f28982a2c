package redislimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// IdempotencyConfig configures an [IdempotencyStore]. Client is required.
type IdempotencyConfig struct {
	// Client is the Redis connection (any [redis.UniversalClient]).
	Client redis.UniversalClient
	// Prefix starts every key the store writes. Empty means
	// "levee:idem:".
	Prefix string
}

// IdempotencyStore keeps Idempotency-Key claims and stored responses in
// Redis, shared by every instance: it implements leveehttp.IdempotencyStore
// (and serves leveegin's and leveeecho's Idempotency). A claim is a key
// written only if absent, with the request's lease as its Redis expiry, so
// a process that dies mid-request frees its keys when the lease runs out;
// a stored response replaces the claim, compared and set in one script, with
// the response's TTL. Each call is one round trip. The store keeps no state
// of its own and is safe for concurrent use.
type IdempotencyStore struct {
	client redis.UniversalClient
	prefix string
}

// NewIdempotencyStore returns a store over cfg.Client, or an error naming
// what is missing.
func NewIdempotencyStore(cfg IdempotencyConfig) (*IdempotencyStore, error) {
	if cfg.Client == nil {
		return nil, errors.New("redislimit: IdempotencyConfig.Client is nil, want a Redis client")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "levee:idem:"
	}
	return &IdempotencyStore{client: cfg.Client, prefix: cfg.Prefix}, nil
}

// claimScript stores ARGV[1] under KEYS[1] for ARGV[2] milliseconds unless
// the key exists, and returns the value it holds then, or false.
var claimScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
`)

// settleScript replaces KEYS[1] with ARGV[2] for ARGV[3] milliseconds, or
// deletes it when ARGV[2] is empty, if it still holds exactly ARGV[1].
var settleScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
`)

// Claim stores pending under key for lease unless key holds a value, which
// it returns instead. A lease under a millisecond is a millisecond.
func (s *IdempotencyStore) Claim(ctx context.Context, key string, pending []byte, lease time.Duration) ([]byte, error) {
	v, err := claimScript.Run(ctx, s.client, []string{s.prefix + key}, pending, millis(lease)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("redislimit: idempotency claim: %w", err)
	}
	held, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("redislimit: idempotency claim: reply %T, want a string", v)
	}
	return []byte(held), nil
}

// Settle replaces the claim pending on key with done for ttl, or deletes
// it when done is nil, if key still holds pending; otherwise (the lease
// expired, perhaps another request claimed the key since) it does nothing.
func (s *IdempotencyStore) Settle(ctx context.Context, key string, pending, done []byte, ttl time.Duration) error {
	if done != nil && len(done) == 0 {
		return errors.New("redislimit: idempotency settle: empty value, want nil to free the key")
	}
	err := settleScript.Run(ctx, s.client, []string{s.prefix + key}, pending, done, millis(ttl)).Err()
	if err != nil {
		return fmt.Errorf("redislimit: idempotency settle: %w", err)
	}
	return nil
}

func millis(d time.Duration) int64 { return max(d.Milliseconds(), 1) }
