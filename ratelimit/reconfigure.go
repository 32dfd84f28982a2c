package ratelimit

import (
	"fmt"
	"math/bits"
	"reflect"

	"github.com/levee-go/levee/clock"
)

// fixed checks the fields that wire a limiter to its name and clock, which
// cannot change at run time: zero means "as now", another value is an
// error naming the field.
func fixed(name, curName string, clk, curClk clock.Clock, coarse bool) error {
	switch {
	case name != "" && name != curName:
		return fmt.Errorf("ratelimit: Name = %q, cannot change at run time (it is %q)", name, curName)
	case clk != nil && clk != curClk:
		return fmt.Errorf("ratelimit: Clock cannot change at run time")
	case coarse && !isCoarse(curClk):
		return fmt.Errorf("ratelimit: CoarseClock = true, cannot change at run time (the limiter runs on its Clock)")
	}
	return nil
}

// Reconfigure applies cfg to the running limiter atomically: the rate, the
// burst, the warm-up and its cold factor change together, after the whole
// of cfg has been validated as [NewGCRA] and [NewTokenBucket] validate it
// (zero fields take the same defaults). On an error, which names the
// field, nothing changes.
//
// The tokens available now are kept, capped at the new burst, as
// [GCRA.SetRate] keeps them: a change neither forgets recent use nor hands
// out a burst. Calls decided concurrently see either the old setting or
// the new one. Name, Clock and CoarseClock cannot change: zero means "as
// now", another value is an error. A limiter its constructor did not make
// returns [ErrNotNew].
func (c *core) Reconfigure(cfg Config) error {
	p := c.p.Load()
	if p == nil {
		return ErrNotNew
	}
	if err := fixed(cfg.Name, c.name, cfg.Clock, c.clk, cfg.CoarseClock); err != nil {
		return err
	}
	return c.set(func(old *params) (*params, error) {
		return newParams(cfg.Rate, cfg.Burst, cfg.WarmUp, cfg.ColdFactor, old.coarse)
	})
}

// Reconfigure applies cfg to the running limiter atomically, after
// validating the whole of it as [NewSlidingWindow] does; on an error, which
// names the field, nothing changes. The counts are kept, as
// [SlidingWindow.SetRate] keeps them. Name, Clock and CoarseClock cannot
// change: zero means "as now", another value is an error. A limiter
// [NewSlidingWindow] did not make returns [ErrNotNew].
func (w *SlidingWindow) Reconfigure(cfg WindowConfig) error {
	if w.p.Load() == nil {
		return ErrNotNew
	}
	if err := fixed(cfg.Name, w.name, cfg.Clock, w.clk, cfg.CoarseClock); err != nil {
		return err
	}
	return w.SetRate(cfg.Rate)
}

// Reconfigure applies cfg to the running keyed limiter, after validating
// the whole of it as [NewKeyed] does (zero fields take the same defaults);
// on an error, which names the field, nothing changes.
//
// The default rate and burst change for every key at once, each key
// keeping the tokens it has now (capped at the new burst). The overrides
// become exactly cfg.Overrides, replacing those set by [Keyed.SetOverride]:
// a key overridden before and after keeps its tokens, a new one starts
// full, and a key no longer listed returns to the default limit. MaxKeys
// and IdleTimeout apply from the next key inserted. Calls decided
// concurrently see either the old setting or the new one.
//
// Name, Clock, CoarseClock, Shards and Key cannot change: zero (or nil)
// means "as now", another value (for Key, another function) is an error.
// A limiter [NewKeyed] did not make returns [ErrNotNew].
func (k *Keyed) Reconfigure(cfg KeyedConfig) error {
	cur := k.p.Load()
	if cur == nil {
		return ErrNotNew
	}
	if err := fixed(cfg.Name, k.name, cfg.Clock, k.clk, cfg.CoarseClock); err != nil {
		return err
	}
	switch {
	case cfg.MaxKeys < 0:
		return fmt.Errorf("ratelimit: MaxKeys = %d, want >= 0", cfg.MaxKeys)
	case cfg.IdleTimeout < 0:
		return fmt.Errorf("ratelimit: IdleTimeout = %v, want >= 0", cfg.IdleTimeout)
	case cfg.Shards < 0 || cfg.Shards > 1<<16:
		return fmt.Errorf("ratelimit: Shards = %d, want 0 to 65536", cfg.Shards)
	case cfg.Shards != 0 && 1<<bits.Len(uint(cfg.Shards-1)) != len(k.shards):
		return fmt.Errorf("ratelimit: Shards = %d, cannot change at run time (it is %d)", cfg.Shards, len(k.shards))
	case cfg.Key != nil && reflect.ValueOf(cfg.Key).Pointer() != reflect.ValueOf(k.key).Pointer():
		return fmt.Errorf("ratelimit: Key cannot change at run time")
	}
	np, err := newParams(cfg.Rate, cfg.Burst, 0, 0, cur.coarse)
	if err != nil {
		return err
	}
	type override struct {
		p     *params
		fresh *GCRA // for a key not overridden before: starts full
	}
	ovs := make(map[string]override, len(cfg.Overrides))
	for key, o := range cfg.Overrides {
		g, err := NewGCRA(k.overrideConfig(o))
		if err != nil {
			return fmt.Errorf("ratelimit: Overrides[%q]: %w", key, err)
		}
		ovs[key] = override{p: g.p.Load(), fresh: g}
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	k.installLocked(k.p.Load(), np)
	k.maxKeys.Store(int64(cmp0(cfg.MaxKeys, DefaultMaxKeys)))
	k.idle.Store(int64(cmp0(cfg.IdleTimeout, DefaultIdleTimeout)))
	prev := *k.overrides.Load()
	next := make(map[string]*GCRA, len(ovs))
	for key, o := range ovs {
		next[key] = o.fresh
		if g, ok := prev[key]; ok {
			if g.set(func(*params) (*params, error) { return o.p, nil }) == nil {
				next[key] = g // keeps its tokens
			}
		}
	}
	k.overrides.Store(&next)
	return nil
}

func cmp0[T ~int | ~int64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}
