package gcra

import (
	"math"
	"sync"
	"sync/atomic"
)

// Local is a keyed GCRA limiter held in memory, safe for concurrent use.
// Memory is bounded: when MaxKeys keys are held, idle keys (whose bucket is
// full again, so forgetting them changes nothing) are swept; if none is idle
// the new key is decided against a shared overflow cell, which is stricter,
// never looser.
type Local struct {
	p       Params
	maxKeys int
	every   float64 // µs between sweeps of a full table

	swept float64 // guarded by mu

	mu       sync.RWMutex
	cells    map[string]*cell
	overflow cell
}

type cell struct{ tat atomic.Uint64 } // math.Float64bits of the TAT

// NewLocal returns a limiter with the given parameters holding at most
// maxKeys keys (at least 1). A full table is swept at most once every
// sweepEvery microseconds, so a flood of new keys cannot make every call
// pay for a pass over it; until the next sweep new keys share the overflow
// cell.
func NewLocal(p Params, maxKeys int, sweepEvery float64) *Local {
	return &Local{p: p, maxKeys: max(maxKeys, 1), every: sweepEvery, swept: math.Inf(-1), cells: make(map[string]*cell)}
}

// Take decides between min and want tokens for key at now (microseconds on
// any monotonic scale).
func (l *Local) Take(key string, now float64, want, min int64) Result {
	c := l.cell(key, now)
	for {
		old := c.tat.Load()
		r := Decide(l.p, math.Float64frombits(old), now, want, min)
		if r.Granted == 0 || c.tat.CompareAndSwap(old, math.Float64bits(r.TAT)) {
			return r
		}
	}
}

// Len returns the number of keys held.
func (l *Local) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.cells)
}

func (l *Local) cell(key string, now float64) *cell {
	l.mu.RLock()
	c := l.cells[key]
	l.mu.RUnlock()
	if c != nil {
		return c
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c = l.cells[key]; c != nil {
		return c
	}
	if len(l.cells) >= l.maxKeys {
		if now-l.swept < l.every {
			return &l.overflow
		}
		l.swept = now
		for k, v := range l.cells {
			if math.Float64frombits(v.tat.Load()) <= now {
				delete(l.cells, k)
			}
		}
		if len(l.cells) >= l.maxKeys {
			return &l.overflow
		}
	}
	c = new(cell)
	l.cells[key] = c
	return c
}
