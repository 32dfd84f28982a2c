package clocktest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/clock/clocktest"
)

func TestFakeTimersFireInOrder(t *testing.T) {
	f := clocktest.New(time.Time{})
	var fired []string
	f.AfterFunc(3*time.Second, func() { fired = append(fired, fmt.Sprint("c@", f.Nanotime()/1e9)) })
	f.AfterFunc(1*time.Second, func() {
		fired = append(fired, fmt.Sprint("a@", f.Nanotime()/1e9))
		// A timer scheduled by a callback fires within the same step.
		f.AfterFunc(time.Second, func() { fired = append(fired, fmt.Sprint("b@", f.Nanotime()/1e9)) })
	})
	stopped := f.AfterFunc(2500*time.Millisecond, func() { fired = append(fired, "stopped") })
	if !stopped.Stop() || stopped.Stop() {
		t.Error("Stop() = false on an active timer, or true twice")
	}
	f.Advance(5 * time.Second)
	if got, want := fmt.Sprint(fired), "[a@1 b@2 c@3]"; got != want {
		t.Errorf("fired = %s, want %s", got, want)
	}
	if got := f.Now().Sub(clocktest.Epoch); got != 5*time.Second {
		t.Errorf("Now after Advance(5s) = Epoch+%v, want Epoch+5s", got)
	}
	if f.Pending() != 0 {
		t.Errorf("Pending() = %d, want 0", f.Pending())
	}
}

func TestFakeTimerChannelAndReset(t *testing.T) {
	f := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	tm := f.NewTimer(time.Minute)
	f.Advance(59 * time.Second)
	select {
	case <-tm.C():
		t.Fatal("timer fired early")
	default:
	}
	if !tm.Reset(time.Minute) {
		t.Error("Reset of an active timer = false, want true")
	}
	f.Advance(59 * time.Second)
	select {
	case <-tm.C():
		t.Fatal("reset timer fired at its old deadline")
	default:
	}
	f.Advance(time.Second)
	select {
	case got := <-tm.C():
		if want := time.Date(2030, 1, 1, 0, 1, 59, 0, time.UTC); !got.Equal(want) {
			t.Errorf("timer sent %v, want %v", got, want)
		}
	default:
		t.Fatal("timer did not fire at its reset deadline")
	}
}

func TestFakeBlockUntilAndSleep(t *testing.T) {
	f := clocktest.New(time.Time{})
	done := make(chan bool)
	go func() { done <- clock.Sleep(f, time.Hour, nil) }()
	f.BlockUntil(1)
	f.Advance(time.Hour)
	if !<-done {
		t.Error("Sleep = false, want true after the time passed")
	}
	cancel := make(chan struct{})
	go func() { done <- clock.Sleep(f, time.Hour, cancel) }()
	f.BlockUntil(1)
	close(cancel)
	if <-done {
		t.Error("Sleep = true, want false when done closed first")
	}
	if clock.Sleep(f, 0, cancel) {
		t.Error("Sleep(0) with done closed = true, want false")
	}
	if !clock.Sleep(f, 0, nil) {
		t.Error("Sleep(0) = false, want true")
	}
}

func TestRealClock(t *testing.T) {
	c := clock.Or(nil)
	a := c.Nanotime()
	fired := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(fired) })
	<-fired
	tm := c.NewTimer(time.Millisecond)
	<-tm.C()
	if tm.Stop() {
		t.Error("Stop after firing = true")
	}
	tm.Reset(time.Hour)
	tm.Stop()
	if b := c.Nanotime(); b-a < int64(2*time.Millisecond) {
		t.Errorf("Nanotime advanced %v across two 1ms timers, want >= 2ms", time.Duration(b-a))
	}
	if c.Now().IsZero() {
		t.Error("Now() is zero")
	}
	if clock.Or(clocktest.New(time.Time{})) == clock.Real {
		t.Error("Or(fake) returned Real")
	}
}

func ExampleFake() {
	f := clocktest.New(time.Time{})
	f.AfterFunc(10*time.Second, func() { fmt.Println("fired at", f.Now().Format(time.TimeOnly)) })
	f.Advance(time.Minute)
	// Output: fired at 00:00:10
}

func BenchmarkRealNanotime(b *testing.B) {
	c := clock.Real
	for b.Loop() {
		_ = c.Nanotime()
	}
}

func BenchmarkRealNow(b *testing.B) {
	c := clock.Real
	for b.Loop() {
		_ = c.Now()
	}
}
