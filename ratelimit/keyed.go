package ratelimit

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
)

// KeyedConfig configures a [Keyed] limiter. The zero value limits nothing
// (the zero Rate) but is otherwise ready to use.
type KeyedConfig struct {
	// Name labels the limiter's events.
	Name string
	// Rate is each key's sustained rate. The zero Rate admits every call.
	Rate Rate
	// Burst is each key's burst; zero means Rate.Events, negative is an
	// error.
	Burst int
	// MaxKeys bounds the number of keys held at once. Zero means
	// [DefaultMaxKeys]; negative is an error. When the limiter is full, a new
	// key replaces an idle one of its shard, or else the key, among eight
	// sampled in its shard, whose bucket is fullest (the one with the least
	// to remember). A shard that holds no key always takes one, so the bound
	// may be passed by at most one key per shard.
	MaxKeys int
	// IdleTimeout is how long a key's bucket must have been full before the
	// key may be dropped. A full bucket is exactly what a new key starts
	// with, so dropping it loses nothing; the timeout only saves a busy key
	// from being dropped and inserted again (a write lock and a copy of the
	// key) between its calls. Zero means [DefaultIdleTimeout]; negative is
	// an error.
	IdleTimeout time.Duration
	// Shards is the number of independently locked parts of the key table,
	// rounded up to a power of two. Zero means [DefaultShards]; negative or
	// above 65536 is an error.
	Shards int
	// Overrides gives specific keys (hot tenants, internal callers) their
	// own rate and burst. Overridden keys have a limiter each, never
	// evicted. More can be set later with [Keyed.SetOverride].
	Overrides map[string]Override
	// Key returns the key of a call for [Keyed.Acquire]. Nil means
	// [KeyFromContext].
	Key func(ctx context.Context) string
	// Clock is the source of time. Nil means [clock.Real].
	Clock clock.Clock
	// CoarseClock reads the time from the process-wide coarse clock, as
	// [Config.CoarseClock] describes (the same trade; the burst of every
	// key and override must span 1ms of its rate).
	CoarseClock bool
}

// Override is the limit of one overridden key in a [Keyed] limiter.
type Override struct {
	// Rate is the key's rate; the zero Rate exempts the key from limits.
	Rate Rate
	// Burst is the key's burst; zero means Rate.Events.
	Burst int
}

// Defaults of [KeyedConfig].
const (
	DefaultMaxKeys     = 1 << 20
	DefaultShards      = 256
	DefaultIdleTimeout = time.Minute
)

// Keyed is a GCRA limiter per key (tenant, client address, route …) with
// bounded memory. Keys live in shards, each an open-addressing index of
// 8-byte entries into a slice of 24-byte slots (one TAT and the key), so calls for different
// keys rarely meet: a decision for a known key takes its shard's read lock
// and one compare-and-swap on the key's TAT, and does not allocate. A new key
// takes the shard's write lock once and allocates its copy of the key.
//
// Memory is bounded by MaxKeys, and idle keys are dropped as shards take new
// ones (two slots are checked per insertion) or by [Keyed.Sweep], which also
// shrinks emptied shards. A key costs about 44 bytes plus its own bytes
// (measured by TestKeyedMemory and BenchmarkKeyedMemory: see the package
// documentation).
//
// A Keyed limiter is safe for concurrent use. Make one with [NewKeyed]: the
// zero value has no clock and no rate, so it refuses every call (AllowKey
// false, DecideKeyAt a refusal with RetryAfter [levee.Never]) and its
// methods that return an error return [ErrNotNew].
type Keyed struct {
	settings
	overrides atomic.Pointer[map[string]*GCRA]
	shards    []shard
	mask      uint64
	maxKeys   atomic.Int64
	count     atomic.Int64 // keys held in all shards
	idle      atomic.Int64 // ns
	seed      maphash.Seed
	key       func(context.Context) string
}

type shard struct {
	mu     sync.RWMutex
	index  keyIndex
	slots  []slot
	cursor uint32
	_      [64]byte // keep shards' locks on separate cache lines
}

type slot struct {
	tat atomic.Int64
	key string
}

// NewKeyed returns a keyed limiter configured by cfg, or an error naming the
// invalid field.
func NewKeyed(cfg KeyedConfig) (*Keyed, error) {
	p, err := newParams(cfg.Rate, cfg.Burst, 0, 0, cfg.CoarseClock)
	if err != nil {
		return nil, err
	}
	clk, err := pickClock(cfg.Clock, cfg.CoarseClock)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.MaxKeys < 0:
		return nil, fmt.Errorf("ratelimit: MaxKeys = %d, want >= 0", cfg.MaxKeys)
	case cfg.IdleTimeout < 0:
		return nil, fmt.Errorf("ratelimit: IdleTimeout = %v, want >= 0", cfg.IdleTimeout)
	case cfg.Shards < 0 || cfg.Shards > 1<<16:
		return nil, fmt.Errorf("ratelimit: Shards = %d, want 0 to 65536", cfg.Shards)
	}
	n := cfg.Shards
	if n == 0 {
		n = DefaultShards
	}
	n = 1 << bits.Len(uint(n-1))
	idle := cfg.IdleTimeout
	if idle == 0 {
		idle = DefaultIdleTimeout
	}
	maxKeys := cfg.MaxKeys
	if maxKeys == 0 {
		maxKeys = DefaultMaxKeys
	}
	k := &Keyed{
		shards: make([]shard, n),
		mask:   uint64(n - 1),
		seed:   maphash.MakeSeed(),
		key:    cfg.Key,
	}
	k.maxKeys.Store(int64(maxKeys))
	k.idle.Store(int64(idle))
	k.clk = clk
	k.name = cfg.Name
	k.install = k.swap
	if k.key == nil {
		k.key = KeyFromContext
	}
	k.p.Store(p)
	ov := make(map[string]*GCRA, len(cfg.Overrides))
	for key, o := range cfg.Overrides {
		g, err := NewGCRA(k.overrideConfig(o))
		if err != nil {
			return nil, fmt.Errorf("ratelimit: Overrides[%q]: %w", key, err)
		}
		ov[key] = g
	}
	k.overrides.Store(&ov)
	return k, nil
}

// DecideKey decides one call for key now: it takes the key's token if it
// can. It implements [levee.KeyedLimiter]. A local decision never waits, so
// ctx is not consulted and the error is always nil; the error exists for
// limiters that call out (redislimit), and for a limiter [NewKeyed] did not
// make, which refuses with [ErrNotNew]. It does not allocate for a known
// key.
func (k *Keyed) DecideKey(ctx context.Context, key string) (levee.Decision, error) {
	return k.DecideKeyN(ctx, key, 1)
}

// DecideKeyN is DecideKey for n tokens. n <= 0 takes nothing and
// describes the key; n above the burst is rejected with RetryAfter
// [levee.Never]. The error is nil unless [NewKeyed] did not make k
// ([ErrNotNew]).
func (k *Keyed) DecideKeyN(ctx context.Context, key string, n int) (levee.Decision, error) {
	if p := k.p.Load(); p != nil {
		return k.decideAt(p, key, k.clk.Nanotime(), n, true), nil
	}
	return notNew, ErrNotNew
}

// DecideKeyAt is DecideKey at now, a [clock.Clock.Nanotime] reading of the
// limiter's clock. A limiter [NewKeyed] did not make refuses with
// RetryAfter [levee.Never].
func (k *Keyed) DecideKeyAt(key string, now int64) levee.Decision {
	return k.DecideKeyNAt(key, now, 1)
}

// DecideKeyNAt is DecideKeyN at now, a Nanotime reading.
func (k *Keyed) DecideKeyNAt(key string, now int64, n int) levee.Decision {
	if p := k.p.Load(); p != nil {
		return k.decideAt(p, key, now, n, false)
	}
	return notNew
}

// AllowKey reports whether one call for key may happen now, and takes its
// token if so. A limiter [NewKeyed] did not make allows nothing.
func (k *Keyed) AllowKey(key string) bool {
	if p := k.p.Load(); p != nil {
		return k.decideAt(p, key, k.clk.Nanotime(), 1, true).Allowed
	}
	return false
}

// decideAt decides n tokens for key at now under p, the limiter's params,
// and reports a refusal. With live
// set now is a reading this call just took: on the coarse clock, a refusal
// whose wait a lagging reading could explain is decided again at an exact
// reading. Overridden keys go to their own limiters, which report to their
// own listeners.
func (k *Keyed) decideAt(p *params, key string, now int64, n int, live bool) levee.Decision {
	if ov := *k.overrides.Load(); len(ov) > 0 {
		if g := ov[key]; g != nil {
			return g.decideNAt(g.p.Load(), now, n, live)
		}
	}
	d := k.decide(p, key, now, n)
	if live && !d.Allowed && d.RetryAfter < time.Duration(maxStale) && isCoarse(k.clk) {
		if fresh := exactNanotime(k.clk); fresh > now {
			d = k.decide(p, key, fresh, n)
		}
	}
	return k.done(d)
}

// decide decides at now for a key without an override; the caller reports
// a refusal.
func (k *Keyed) decide(p *params, key string, now int64, n int) levee.Decision {
	if p.interval == 0 {
		return levee.Decision{Allowed: true}
	}
	h := maphash.String(k.seed, key)
	tag := tagOf(h)
	sh := &k.shards[h&k.mask]
	sh.mu.RLock()
	if _, i, ok := sh.index.find(tag, key, sh.slots); ok {
		d := decideSlot(&sh.slots[i].tat, p, now, n)
		sh.mu.RUnlock()
		return d
	}
	sh.mu.RUnlock()
	if n <= 0 || int64(n) > p.burst {
		// A new key's bucket is full; nothing to store.
		var tat atomic.Int64
		tat.Store(initialTAT)
		return decideSlot(&tat, p, now, n)
	}
	sh.mu.Lock()
	_, i, ok := sh.index.find(tag, key, sh.slots)
	if !ok {
		i = k.insert(sh, key, tag, now)
	}
	d := decideSlot(&sh.slots[i].tat, p, now, n)
	sh.mu.Unlock()
	return d
}

func (k *Keyed) done(d levee.Decision) levee.Decision {
	if !d.Allowed && k.listeners.Active() {
		k.listeners.Emit(levee.Event{
			Kind: levee.EventRejected, Policy: "ratelimit", Name: k.name,
			Time: k.clk.Now(), Err: levee.ErrLimited, Wait: d.RetryAfter,
		})
	}
	return d
}

// insert adds key to sh (write-locked), first dropping up to two idle keys
// at the sweep cursor and, if the shard is still full, one victim.
func (k *Keyed) insert(sh *shard, key string, tag uint32, now int64) uint32 {
	for range 2 {
		if len(sh.slots) == 0 {
			break
		}
		c := int(sh.cursor) % len(sh.slots)
		if sh.slots[c].tat.Load() <= now-k.idle.Load() {
			k.remove(sh, c)
		} else {
			sh.cursor = uint32(c + 1)
		}
	}
	if k.count.Load() >= k.maxKeys.Load() && len(sh.slots) > 0 {
		// Sample up to 8 slots from the cursor; drop the fullest bucket.
		victim, least := 0, int64(0)
		for j := range min(8, len(sh.slots)) {
			c := (int(sh.cursor) + j) % len(sh.slots)
			if t := sh.slots[c].tat.Load(); j == 0 || t < least {
				victim, least = c, t
			}
		}
		sh.cursor = uint32(victim + 1)
		k.remove(sh, victim)
	}
	i := uint32(len(sh.slots))
	sh.slots = append(sh.slots, slot{key: strings.Clone(key)})
	sh.slots[i].tat.Store(initialTAT)
	sh.index.insert(tag, i, sh.slots, k.seed)
	k.count.Add(1)
	return i
}

// remove drops slot i of sh (write-locked) by moving the last slot into it.
func (k *Keyed) remove(sh *shard, i int) {
	key := sh.slots[i].key
	if pos, _, ok := sh.index.find(tagOf(maphash.String(k.seed, key)), key, sh.slots); ok {
		sh.index.deleteAt(pos)
	}
	last := len(sh.slots) - 1
	if i != last {
		moved := sh.slots[last].key
		if pos, _, ok := sh.index.find(tagOf(maphash.String(k.seed, moved)), moved, sh.slots); ok {
			sh.index.setSlot(pos, uint32(i))
		}
		sh.slots[i].tat.Store(sh.slots[last].tat.Load())
		sh.slots[i].key = moved
	}
	sh.slots[last].key = ""
	sh.slots = sh.slots[:last]
	k.count.Add(-1)
}

// decideSlot is the GCRA decision on one key's TAT (see [GCRA]).
func decideSlot(tat *atomic.Int64, p *params, now int64, n int) levee.Decision {
	d := p.decision()
	for {
		old := tat.Load()
		base := max(old, now)
		switch {
		case n <= 0:
			d.Allowed = true
		case int64(n) > p.burst:
			d.RetryAfter = levee.Never
		default:
			next := base + int64(n)*p.interval
			if wait := next - p.tau - now; wait > 0 {
				d.RetryAfter = time.Duration(wait)
				break
			}
			if !tat.CompareAndSwap(old, next) {
				continue
			}
			d.Allowed = true
			base = next
		}
		d.Remaining = int(max(now+p.tau-base, 0) / p.interval)
		d.Reset = time.Duration(base - now)
		return d
	}
}

// Sweep drops every key whose bucket has been full for IdleTimeout. Keys are
// also dropped as new ones arrive; call Sweep from a ticker to give memory
// back when no new keys come. A limiter [NewKeyed] did not make holds no
// keys and drops none.
func (k *Keyed) Sweep() int {
	if k.clk == nil {
		return 0
	}
	return k.SweepAt(k.clk.Nanotime())
}

// SweepAt is Sweep at now, a Nanotime reading. It returns how many keys it
// dropped.
func (k *Keyed) SweepAt(now int64) int {
	dropped := 0
	for s := range k.shards {
		sh := &k.shards[s]
		sh.mu.Lock()
		for i := 0; i < len(sh.slots); {
			if sh.slots[i].tat.Load() <= now-k.idle.Load() {
				k.remove(sh, i)
				dropped++
				continue
			}
			i++
		}
		k.compact(sh)
		sh.mu.Unlock()
	}
	return dropped
}

// compact gives memory back after a sweep emptied most of a shard
// (write-locked): the index shrinks below 1/8 load and the slot slice below
// 1/4 use.
func (k *Keyed) compact(sh *shard) {
	n := len(sh.slots)
	if size := len(sh.index.table); size > 8 && n*8 < size {
		sh.index.resize(max(8, 1<<bits.Len(uint(n*2))), sh.slots, k.seed)
	}
	if c := cap(sh.slots); c > 16 && n*4 < c {
		slots := make([]slot, n, n*2)
		for i := range sh.slots {
			slots[i].key = sh.slots[i].key
			slots[i].tat.Store(sh.slots[i].tat.Load())
		}
		sh.slots = slots
	}
}

// Len returns the number of keys held (overrides not included).
func (k *Keyed) Len() int { return int(k.count.Load()) }

// Stage places the limiter at [levee.StageLimit] in a pipeline.
func (k *Keyed) Stage() levee.Stage { return levee.StageLimit }

// Acquire admits a call for the key that [KeyedConfig.Key] finds in ctx;
// see [Keyed.AcquireKey].
func (k *Keyed) Acquire(ctx context.Context) (levee.Permit, error) {
	if k.key == nil {
		return levee.Permit{}, ErrNotNew
	}
	return k.AcquireKey(ctx, k.key(ctx))
}

// AcquireKey admits a call for key, implementing [levee.KeyedGate]. A
// rejection is a [levee.RejectionError] matching [levee.ErrLimited] whose
// Wait is that key's retry-after, rounded up to the millisecond (below a
// second) or to the tenth of a second (below a minute). Rounded waits are
// shared values, made once per process, so neither path allocates; a wait
// of a minute or more is exact and allocates. The permit needs no settling.
// A limiter [NewKeyed] did not make returns [ErrNotNew].
func (k *Keyed) AcquireKey(ctx context.Context, key string) (levee.Permit, error) {
	p := k.p.Load()
	if p == nil {
		return levee.Permit{}, ErrNotNew
	}
	d := k.decideAt(p, key, k.clk.Nanotime(), 1, true)
	if d.Allowed {
		return levee.Permit{}, nil
	}
	return levee.Permit{}, rejectAfter(d.RetryAfter)
}

// rejections holds the shared rejections of rejectAfter: index 0 for no
// wait, 1..1000 for whole milliseconds up to a second, 1001..1590 for
// tenths of a second above it up to a minute.
var rejections [1591]atomic.Pointer[levee.RejectionError]

// rejectAfter returns a rejection whose Wait is wait rounded up as
// [Keyed.Acquire] describes, from rejections when it fits.
func rejectAfter(wait time.Duration) error {
	var i int
	switch {
	case wait <= 0:
		i, wait = 0, 0
	case wait <= time.Second:
		ms := (wait + time.Millisecond - 1) / time.Millisecond
		i, wait = int(ms), ms*time.Millisecond
	case wait <= time.Minute:
		ds := (wait + 100*time.Millisecond - 1) / (100 * time.Millisecond)
		i, wait = 990+int(ds), ds*100*time.Millisecond
	default:
		return levee.Reject(levee.ErrLimited, wait)
	}
	if e := rejections[i].Load(); e != nil {
		return e
	}
	rejections[i].CompareAndSwap(nil, &levee.RejectionError{Kind: levee.ErrLimited, Wait: wait})
	return rejections[i].Load()
}

// swap installs np for every key, converting each key's TAT with its shard
// locked (about a millisecond per 100,000 keys).
func (k *Keyed) swap(old, np *params) {
	for s := range k.shards {
		k.shards[s].mu.Lock()
	}
	now := k.clk.Nanotime()
	for s := range k.shards {
		sh := &k.shards[s]
		for i := range sh.slots {
			t := &sh.slots[i].tat
			t.Store(convertTAT(old, np, t.Load(), now))
		}
	}
	k.p.Store(np)
	for s := range k.shards {
		k.shards[s].mu.Unlock()
	}
}

// overrideConfig is the configuration of an override's limiter: o's rate
// and burst on the limiter's clock.
func (k *Keyed) overrideConfig(o Override) Config {
	cfg := Config{Name: k.name, Rate: o.Rate, Burst: o.Burst}
	if _, coarse := k.clk.(coarseClock); coarse {
		cfg.CoarseClock = true
	} else {
		cfg.Clock = k.clk
	}
	return cfg
}

// SetOverride gives key its own limit, replacing any earlier override. The
// key's bucket starts full. A limiter [NewKeyed] did not make returns
// [ErrNotNew].
func (k *Keyed) SetOverride(key string, o Override) error {
	if k.p.Load() == nil {
		return ErrNotNew
	}
	g, err := NewGCRA(k.overrideConfig(o))
	if err != nil {
		return fmt.Errorf("ratelimit: override %q: %w", key, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	cur := *k.overrides.Load()
	next := make(map[string]*GCRA, len(cur)+1)
	for kk, v := range cur {
		next[kk] = v
	}
	next[strings.Clone(key)] = g
	k.overrides.Store(&next)
	return nil
}

// RemoveOverride returns key to the default limit. It does nothing for a
// key without an override.
func (k *Keyed) RemoveOverride(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ov := k.overrides.Load()
	if ov == nil {
		return // not made by NewKeyed: no overrides
	}
	cur := *ov
	if _, ok := cur[key]; !ok {
		return
	}
	next := make(map[string]*GCRA, len(cur))
	for kk, v := range cur {
		if kk != key {
			next[kk] = v
		}
	}
	k.overrides.Store(&next)
}

type keyCtx struct{}

// WithKey returns a context that carries the rate-limit key for
// [Keyed.Acquire].
func WithKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, keyCtx{}, key)
}

// KeyFromContext returns the key set by [WithKey], or "" (one shared bucket).
func KeyFromContext(ctx context.Context) string {
	s, _ := ctx.Value(keyCtx{}).(string)
	return s
}

var (
	_ levee.Gate         = (*Keyed)(nil)
	_ levee.KeyedLimiter = (*Keyed)(nil)
)
