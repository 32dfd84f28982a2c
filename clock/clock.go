// Package clock is the source of time for every Levee policy.
//
// Policies never call the time package directly: they take a [Clock] in their
// configuration (nil means [Real]), so tests can replace it with the fake in
// package clocktest and step through window math, backoff and state machines
// without sleeping.
package clock

import "time"

// Clock tells the time and schedules work. Implementations must be safe for
// concurrent use.
type Clock interface {
	// Now returns the current wall-clock time (with a monotonic reading when
	// the implementation has one).
	Now() time.Time

	// Nanotime returns monotonic nanoseconds since an arbitrary origin fixed
	// for the life of the clock. It is the cheap reading hot paths use to
	// measure latency and place calls in time buckets: on the real clock it
	// costs one monotonic read, about half of Now.
	Nanotime() int64

	// NewTimer returns a timer that sends the current time on its channel
	// after at least d.
	NewTimer(d time.Duration) Timer

	// AfterFunc calls f in its own goroutine after at least d and returns a
	// timer that can stop it.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is the part of [time.Timer] that policies use.
type Timer interface {
	// C returns the channel the timer fires on; nil for timers made by
	// AfterFunc.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it stopped
	// the timer before it fired.
	Stop() bool
	// Reset changes the timer to fire after d; it reports whether the timer
	// had been active.
	Reset(d time.Duration) bool
}

// Real is the clock of the operating system.
var Real Clock = realClock{}

// Or returns c, or [Real] when c is nil. Policies call it on their configured
// clock so that a zero configuration uses real time.
func Or(c Clock) Clock {
	if c == nil {
		return Real
	}
	return c
}

// origin anchors Real's Nanotime; time.Since on a monotonic reading costs a
// single monotonic clock read.
var origin = time.Now()

type realClock struct{}

func (realClock) Now() time.Time  { return time.Now() }
func (realClock) Nanotime() int64 { return int64(time.Since(origin)) }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

func (realClock) AfterFunc(d time.Duration, f func()) Timer {
	return realTimer{time.AfterFunc(d, f)}
}

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time        { return t.t.C }
func (t realTimer) Stop() bool                 { return t.t.Stop() }
func (t realTimer) Reset(d time.Duration) bool { return t.t.Reset(d) }

// Sleep waits for d on c, or until ctx-like done is closed. It returns false
// when done closed first. Policies use it for backoff so that a cancelled
// context interrupts the wait at once.
func Sleep(c Clock, d time.Duration, done <-chan struct{}) bool {
	if d <= 0 {
		select {
		case <-done:
			return false
		default:
			return true
		}
	}
	t := Or(c).NewTimer(d)
	select {
	case <-t.C():
		return true
	case <-done:
		t.Stop()
		return false
	}
}

var _ Clock = realClock{}
