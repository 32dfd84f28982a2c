package leveehttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/levee-go/levee/clock"
)

// ErrIdempotencyFull is returned by [IdempotencyMemory] when it cannot take
// a claim or a response without going over its bounds: every entry it
// could drop is a running request's claim.
var ErrIdempotencyFull = errors.New("leveehttp: idempotency store full")

// IdempotencyMemoryConfig configures an [IdempotencyMemory]. The zero value
// holds up to 10,000 keys and 64 MiB of values on the real clock.
type IdempotencyMemoryConfig struct {
	// MaxEntries bounds the keys held. Zero means 10,000; negative is
	// refused.
	MaxEntries int
	// MaxBytes bounds the bytes of the keys and values held. Zero means
	// 64 MiB; negative is refused.
	MaxBytes int64
	// Clock measures leases and TTLs. Nil means the real clock.
	Clock clock.Clock
}

// IdempotencyMemory is an [IdempotencyStore] in the process's memory, for a
// single instance (several instances share redislimit.IdempotencyStore).
// It is bounded: when a new claim or response would pass MaxEntries or
// MaxBytes it first drops expired entries, then stored responses, the
// soonest to expire first; running requests' claims are never dropped, and
// when only they remain the store refuses with [ErrIdempotencyFull]. Safe
// for concurrent use.
type IdempotencyMemory struct {
	clk        clock.Clock
	maxEntries int
	maxBytes   int64

	mu      sync.Mutex
	entries map[string]memEntry
	bytes   int64
}

type memEntry struct {
	value   []byte
	expires int64 // on clk.Nanotime
	pending bool
}

func (e memEntry) size(key string) int64 { return int64(len(key) + len(e.value)) }

// NewIdempotencyMemory returns an empty store, or an error naming the
// configuration field it refuses.
func NewIdempotencyMemory(cfg IdempotencyMemoryConfig) (*IdempotencyMemory, error) {
	if cfg.MaxEntries < 0 {
		return nil, fmt.Errorf("leveehttp: IdempotencyMemoryConfig.MaxEntries: %d is negative", cfg.MaxEntries)
	}
	if cfg.MaxBytes < 0 {
		return nil, fmt.Errorf("leveehttp: IdempotencyMemoryConfig.MaxBytes: %d is negative", cfg.MaxBytes)
	}
	s := &IdempotencyMemory{clk: clock.Or(cfg.Clock), maxEntries: cfg.MaxEntries, maxBytes: cfg.MaxBytes,
		entries: map[string]memEntry{}}
	if s.maxEntries == 0 {
		s.maxEntries = 10_000
	}
	if s.maxBytes == 0 {
		s.maxBytes = 64 << 20
	}
	return s, nil
}

// Claim implements [IdempotencyStore]. The held value it returns must not
// be changed.
func (s *IdempotencyMemory) Claim(ctx context.Context, key string, pending []byte, lease time.Duration) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.clk.Nanotime()
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[key]; ok {
		if e.expires > now {
			return e.value, nil
		}
		s.removeLocked(key, e)
	}
	e := memEntry{value: bytes.Clone(pending), expires: now + int64(lease), pending: true}
	if !s.makeRoomLocked(e.size(key), now) {
		return nil, ErrIdempotencyFull
	}
	s.entries[key] = e
	s.bytes += e.size(key)
	return nil, nil
}

// Settle implements [IdempotencyStore]. When done does not fit even after
// dropping every stored response, the claim is freed and Settle returns
// [ErrIdempotencyFull].
func (s *IdempotencyMemory) Settle(ctx context.Context, key string, pending, done []byte, ttl time.Duration) error {
	now := s.clk.Nanotime()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if !ok || !e.pending || e.expires <= now || !bytes.Equal(e.value, pending) {
		return nil
	}
	s.removeLocked(key, e)
	if done == nil {
		return nil
	}
	d := memEntry{value: bytes.Clone(done), expires: now + int64(ttl)}
	if !s.makeRoomLocked(d.size(key), now) {
		return ErrIdempotencyFull
	}
	s.entries[key] = d
	s.bytes += d.size(key)
	return nil
}

// Len returns the number of keys held, expired ones included until they
// are dropped.
func (s *IdempotencyMemory) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

func (s *IdempotencyMemory) removeLocked(key string, e memEntry) {
	delete(s.entries, key)
	s.bytes -= e.size(key)
}

func (s *IdempotencyMemory) fitsLocked(size int64) bool {
	return len(s.entries) < s.maxEntries && s.bytes+size <= s.maxBytes
}

// makeRoomLocked drops entries until one of size fits: expired ones first,
// in one sweep, then stored responses soonest to expire first. Each step
// scans the map, which is done only when the store is full.
func (s *IdempotencyMemory) makeRoomLocked(size int64, now int64) bool {
	if size > s.maxBytes {
		return false
	}
	if s.fitsLocked(size) {
		return true
	}
	for k, e := range s.entries {
		if e.expires <= now {
			s.removeLocked(k, e)
		}
	}
	for !s.fitsLocked(size) {
		victim, found := "", false
		var ve memEntry
		for k, e := range s.entries {
			if !e.pending && (!found || e.expires < ve.expires) {
				victim, ve, found = k, e, true
			}
		}
		if !found {
			return false
		}
		s.removeLocked(victim, ve)
	}
	return true
}
