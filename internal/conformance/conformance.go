package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
)

// DefaultGuard is how long the suite waits on the real clock, when a case
// sets no Guard, for something that should happen at once (a cancelled
// wait returning, a goroutine ending) before it calls the policy stuck. It
// bounds hangs; it measures nothing.
const DefaultGuard = 10 * time.Second

// errCall is what the suite's failing calls return.
var errCall = errors.New("conformance: call failed")

// T is the part of [testing.T] the suite uses. The exported entry points
// take a *testing.T; T lets the suite's own tests run it against policies
// that are broken on purpose and check that it fails them.
type T interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Run(name string, f func(T)) bool
}

// std adapts a *testing.T to T.
type std struct{ *testing.T }

func (t std) Run(name string, f func(T)) bool {
	return t.T.Run(name, func(t *testing.T) { f(std{t}) })
}

func guardOf(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultGuard
	}
	return d
}

// within runs f and waits up to guard for it to return. It reports false
// when f is still running; f then goes on in its goroutine.
func within(guard time.Duration, f func()) bool {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	t := time.NewTimer(guard)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// blockUntil waits for n timers pending on clk, up to guard.
func blockUntil(clk *clocktest.Fake, n int, guard time.Duration) bool {
	return within(guard, func() { clk.BlockUntil(n) })
}

// drive advances clk step by step, whenever a timer is pending, until done
// closes; it reports false when done has not closed within guard of real
// time.
func drive(clk *clocktest.Fake, done <-chan struct{}, step, guard time.Duration) bool {
	deadline := time.Now().Add(guard)
	for {
		select {
		case <-done:
			return true
		default:
		}
		if time.Now().After(deadline) {
			return false
		}
		if clk.Pending() > 0 {
			clk.Advance(step)
		} else {
			runtime.Gosched()
			time.Sleep(50 * time.Microsecond)
		}
	}
}

// goroutines counts the running goroutines once the ones that are ending
// have had a chance to.
func goroutines() int {
	runtime.Gosched()
	return runtime.NumGoroutine()
}

// checkLeaks fails t unless the goroutine count comes back to baseline
// within guard.
func checkLeaks(t T, baseline int, guard time.Duration) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for {
		n := goroutines()
		if n <= baseline {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("leaks: %d goroutines still running, want at most %d as before the suite; stacks:\n%s",
				n, baseline, trimStacks(buf))
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// trimStacks keeps the first 40 goroutine stacks of a dump.
func trimStacks(dump []byte) []byte {
	parts := bytes.Split(dump, []byte("\n\n"))
	if len(parts) > 40 {
		parts = append(parts[:40], fmt.Appendf(nil, "... %d more", len(parts)-40))
	}
	return bytes.Join(parts, []byte("\n\n"))
}

// catch runs f and returns what it panicked with, if it did.
func catch(f func()) (v any, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			v, panicked = r, true
		}
	}()
	f()
	return nil, false
}
