package hedge

import (
	"context"
	"sync"
)

// attemptCtx is the context of a call's attempts: the caller's context,
// plus the cancellation Execute makes when it returns, which ends the
// losers. It does what context.WithCancel does for one allocation instead of
// two: its Done channel, and its link to the caller's cancellation, are made
// only when an attempt asks for Done or derives a context from it.
type attemptCtx struct {
	context.Context // the caller's

	mu     sync.Mutex
	done   chan struct{} // made by the first Done
	err    error         // set once, by cancel
	stop   func() bool   // unlinks from the caller's cancellation
	after  []*afterFunc  // registered by AfterFunc, run by cancel
	linked bool
}

type afterFunc struct{ f func() }

func (c *attemptCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.linkLocked()
	return c.done
}

// linkLocked makes the Done channel and, while c is live, ties c to the
// caller's cancellation.
func (c *attemptCtx) linkLocked() {
	if c.linked {
		return
	}
	c.linked = true
	c.done = make(chan struct{})
	if c.err != nil {
		close(c.done)
		return
	}
	if c.Context.Done() != nil {
		c.stop = context.AfterFunc(c.Context, func() { c.cancel(c.Context.Err()) })
	}
}

func (c *attemptCtx) Err() error {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if err := c.Context.Err(); err != nil {
		c.cancel(err)
		return c.Err()
	}
	return nil
}

// AfterFunc lets contexts derived from c follow its cancellation without a
// goroutine of their own (context.WithCancel looks for this method).
func (c *attemptCtx) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	c.mu.Lock()
	c.linkLocked()
	if c.err != nil {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	c.after = append(c.after, a)
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, x := range c.after {
			if x == a {
				c.after = append(c.after[:i], c.after[i+1:]...)
				return true
			}
		}
		return false
	}
}

// cancel ends c with err, once.
func (c *attemptCtx) cancel(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	if c.done != nil {
		close(c.done)
	}
	after, stop := c.after, c.stop
	c.after, c.stop = nil, nil
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
	for _, a := range after {
		go a.f()
	}
}
