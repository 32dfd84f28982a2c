package ratelimit

// KeyUsage is one key of a [Keyed] limiter and how much of its burst it
// has spent.
type KeyUsage struct {
	// Key is the key, as the limiter was given it.
	Key string `json:"key"`
	// Used is the share of the key's burst spent now, from 0 (a full
	// bucket) to 1 (an empty one: the key's next call is refused or waits).
	Used float64 `json:"used"`
}

// Top returns the n keys that have spent the most of their burst now,
// the most first: the keys closest to being limited, for status pages and
// dashboards. Keys with a full bucket are left out, and so are keys with
// an override ([Keyed.SetOverride]). It reads every key under its shard's
// read lock, so it costs time in proportion to the keys held and n; call
// it for a status page, not per request.
func (k *Keyed) Top(n int) []KeyUsage {
	if k.clk == nil {
		return nil
	}
	return k.TopAt(k.clk.Nanotime(), n)
}

// TopAt is Top at now, a [clock.Clock.Nanotime] reading of the limiter's
// clock.
func (k *Keyed) TopAt(now int64, n int) []KeyUsage {
	p := k.p.Load()
	if p == nil || p.interval == 0 || p.tau <= 0 || n <= 0 || k.count.Load() == 0 {
		return nil
	}
	var top []KeyUsage // the n most used so far, most first
	for s := range k.shards {
		sh := &k.shards[s]
		sh.mu.RLock()
		for i := range sh.slots {
			ahead := sh.slots[i].tat.Load() - now
			if ahead <= 0 {
				continue // a full bucket
			}
			used := min(float64(ahead)/float64(p.tau), 1)
			if len(top) == n && used <= top[n-1].Used {
				continue
			}
			j := len(top)
			if top == nil {
				top = make([]KeyUsage, 0, n)
			}
			if j < n {
				top = append(top, KeyUsage{})
			} else {
				j = n - 1
			}
			for ; j > 0 && top[j-1].Used < used; j-- {
				top[j] = top[j-1]
			}
			top[j] = KeyUsage{Key: sh.slots[i].key, Used: used}
		}
		sh.mu.RUnlock()
	}
	return top
}
