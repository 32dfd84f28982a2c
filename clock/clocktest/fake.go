// Package clocktest provides a fake [clock.Clock] for tests.
//
// Time stands still until the test moves it with [Fake.Advance] or [Fake.Set].
// Timers due within the step fire in order of their deadlines, and functions
// given to AfterFunc run synchronously inside Advance, so when Advance returns
// every effect of the elapsed time has happened: a test can assert a breaker's
// state right after stepping past its open wait, without sleeping.
package clocktest

import (
	"sort"
	"sync"
	"time"

	"github.com/levee-go/levee/clock"
)

// Epoch is the time a zero-argument [New] starts at.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Fake is a manually driven clock. The zero value is not usable; call [New].
type Fake struct {
	mu     sync.Mutex
	cond   *sync.Cond
	now    time.Time
	origin time.Time
	seq    uint64
	timers []*timer
}

// New returns a fake clock reading start, or [Epoch] when start is zero.
func New(start time.Time) *Fake {
	if start.IsZero() {
		start = Epoch
	}
	f := &Fake{now: start, origin: start}
	f.cond = sync.NewCond(&f.mu)
	return f
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Nanotime returns nanoseconds since the clock's start.
func (f *Fake) Nanotime() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int64(f.now.Sub(f.origin))
}

// NewTimer returns a timer that fires when the fake time reaches now+d.
func (f *Fake) NewTimer(d time.Duration) clock.Timer {
	t := &timer{f: f, ch: make(chan time.Time, 1)}
	f.schedule(t, d)
	return t
}

// AfterFunc returns a timer that calls fn, synchronously inside the Advance
// or Set that reaches now+d.
func (f *Fake) AfterFunc(d time.Duration, fn func()) clock.Timer {
	t := &timer{f: f, fn: fn}
	f.schedule(t, d)
	return t
}

// Advance moves time forward by d, firing every timer that falls due on the
// way, in deadline order, each at its own deadline. A timer scheduled by a
// fired callback fires too if it falls within the step.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	target := f.now.Add(d)
	f.mu.Unlock()
	f.Set(target)
}

// Set moves time to t (never backwards), firing due timers as Advance does.
func (f *Fake) Set(t time.Time) {
	for {
		f.mu.Lock()
		if len(f.timers) == 0 || f.timers[0].when.After(t) {
			if t.After(f.now) {
				f.now = t
			}
			f.cond.Broadcast()
			f.mu.Unlock()
			return
		}
		tm := f.timers[0]
		f.timers = f.timers[1:]
		tm.active = false
		if tm.when.After(f.now) {
			f.now = tm.when
		}
		now := f.now
		f.cond.Broadcast()
		f.mu.Unlock()
		if tm.fn != nil {
			tm.fn()
		} else {
			select {
			case tm.ch <- now:
			default:
			}
		}
	}
}

// Pending returns the number of timers waiting to fire.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// BlockUntil waits until at least n timers are pending. Tests call it before
// Advance so that a goroutine has started its wait (a backoff, a hedge delay)
// before time moves.
func (f *Fake) BlockUntil(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.timers) < n {
		f.cond.Wait()
	}
}

func (f *Fake) schedule(t *timer, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.insertLocked(t, d)
}

func (f *Fake) insertLocked(t *timer, d time.Duration) {
	if d < 0 {
		d = 0
	}
	f.seq++
	t.seq = f.seq
	t.when = f.now.Add(d)
	t.active = true
	i := sort.Search(len(f.timers), func(i int) bool {
		o := f.timers[i]
		return o.when.After(t.when) || (o.when.Equal(t.when) && o.seq > t.seq)
	})
	f.timers = append(f.timers, nil)
	copy(f.timers[i+1:], f.timers[i:])
	f.timers[i] = t
	f.cond.Broadcast()
	// A zero-delay timer fires at once, as a real one would almost at once.
	if d == 0 {
		go f.Set(f.now)
	}
}

func (f *Fake) removeLocked(t *timer) bool {
	if !t.active {
		return false
	}
	for i, o := range f.timers {
		if o == t {
			f.timers = append(f.timers[:i], f.timers[i+1:]...)
			break
		}
	}
	t.active = false
	return true
}

type timer struct {
	f      *Fake
	ch     chan time.Time
	fn     func()
	when   time.Time
	seq    uint64
	active bool
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	return t.f.removeLocked(t)
}

func (t *timer) Reset(d time.Duration) bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := t.f.removeLocked(t)
	t.f.insertLocked(t, d)
	return was
}

var _ clock.Clock = (*Fake)(nil)
