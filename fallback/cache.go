package fallback

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/levee-go/levee/clock"
)

// CacheConfig configures a [Cache]. The zero value is ready to use: one
// entry for all calls, refreshed at most once a second, served up to five
// minutes old.
type CacheConfig struct {
	// Key returns the cache key of a call, from its context (a route, a
	// user, a request's resource). Nil means every call shares one entry.
	Key func(ctx context.Context) string
	// TTL is how long a stored result stays current: a success within TTL
	// of the last store does not rewrite the entry, which keeps the
	// success path to a read lock. Default 1s. Zero means the default;
	// negative means every success rewrites its entry.
	TTL time.Duration
	// MaxAge is the oldest result a fallback serves; older entries count as
	// misses. Default 5m. Zero means the default; values below a positive
	// TTL are refused.
	MaxAge time.Duration
	// MaxEntries bounds the number of keys held; when full, the key stored
	// first is evicted. Default 1000. Zero means the default; negative
	// values are refused.
	MaxEntries int
	// Clock dates the entries. Nil means [clock.Real].
	Clock clock.Clock
}

// Cache keeps the last good result of each key, so that a [Chain] can serve
// it when the call fails (stale-on-error). Its [Stale] step reads it; the
// chain writes it after each success. A Cache is safe for concurrent use.
// The zero Cache is ready to use, as one made by NewCache(CacheConfig{}).
type Cache[T any] struct {
	key    func(context.Context) string
	ttl    int64
	maxAge int64
	clk    clock.Clock

	mu   sync.RWMutex
	m    map[string]cacheEntry[T]
	ring []string // keys in insertion order; ring[next] is evicted first
	next int

	once sync.Once // gives a zero Cache the zero config's settings
}

type cacheEntry[T any] struct {
	v      T
	stored int64 // clock nanotime
	slot   int   // index in ring
}

// NewCache returns an empty cache.
func NewCache[T any](cfg CacheConfig) (*Cache[T], error) {
	if cfg.MaxEntries < 0 {
		return nil, fmt.Errorf("fallback: CacheConfig.MaxEntries = %d, want 0 (default 1000) or positive", cfg.MaxEntries)
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = 1000
	}
	switch {
	case cfg.TTL == 0:
		cfg.TTL = time.Second
	case cfg.TTL < 0:
		cfg.TTL = 0
	}
	switch {
	case cfg.MaxAge == 0:
		cfg.MaxAge = max(5*time.Minute, cfg.TTL)
	case cfg.MaxAge < cfg.TTL:
		return nil, fmt.Errorf("fallback: CacheConfig.MaxAge = %v, want 0 (default 5m) or at least TTL (%v)", cfg.MaxAge, cfg.TTL)
	}
	c := &Cache[T]{}
	c.configure(cfg)
	c.once.Do(func() {})
	return c, nil
}

// configure applies cfg, validated and with its defaults set.
func (c *Cache[T]) configure(cfg CacheConfig) {
	c.key, c.ttl, c.maxAge, c.clk = cfg.Key, int64(cfg.TTL), int64(cfg.MaxAge), clock.Or(cfg.Clock)
	c.m = make(map[string]cacheEntry[T])
	c.ring = make([]string, 0, cfg.MaxEntries)
}

// ready gives a zero Cache the defaults of NewCache.
func (c *Cache[T]) ready() {
	c.once.Do(func() {
		d, _ := NewCache[T](CacheConfig{}) // the zero config is valid
		c.key, c.ttl, c.maxAge, c.clk, c.m, c.ring = d.key, d.ttl, d.maxAge, d.clk, d.m, d.ring
	})
}

func (c *Cache[T]) keyOf(ctx context.Context) string {
	if c.key == nil {
		return ""
	}
	return c.key(ctx)
}

// Put stores v as the last good result for ctx's key, unless the stored one
// is younger than TTL.
func (c *Cache[T]) Put(ctx context.Context, v T) {
	c.ready()
	k := c.keyOf(ctx)
	now := c.clk.Nanotime()
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if ok && now-e.stored < c.ttl {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok {
		e.v, e.stored = v, now
		c.m[k] = e
		return
	}
	slot := len(c.ring)
	if slot < cap(c.ring) {
		c.ring = append(c.ring, k)
	} else {
		slot = c.next
		old := c.ring[slot]
		if oe, ok := c.m[old]; ok && oe.slot == slot {
			delete(c.m, old)
		}
		c.ring[slot] = k
		c.next = (c.next + 1) % len(c.ring)
	}
	c.m[k] = cacheEntry[T]{v: v, stored: now, slot: slot}
}

// Get returns the last good result for ctx's key and its age, if there is
// one no older than MaxAge.
func (c *Cache[T]) Get(ctx context.Context) (v T, age time.Duration, ok bool) {
	c.ready()
	k := c.keyOf(ctx)
	now := c.clk.Nanotime()
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || now-e.stored > c.maxAge {
		var zero T
		return zero, 0, false
	}
	return e.v, time.Duration(now - e.stored), true
}

// Len returns the number of keys held, expired ones included until they
// are evicted.
func (c *Cache[T]) Len() int {
	c.ready()
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
