package conformance

import (
	"context"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/clock/clocktest"
)

// maxProbe bounds how many calls the settle-once check holds at once when
// it measures what a gate admits; a gate that admits more is taken to admit
// without limit.
const maxProbe = 512

// probeWait is how long, on the real clock, an Acquire of the settle-once
// check may wait for a slot before the check counts it as refused: a gate
// with a queue waits for a slot that no one will free.
const probeWait = 20 * time.Millisecond

// SettleOnce checks that a gate honours each permit once: settling a permit
// a second time, settling a permit of an earlier admission after the gate
// has admitted others, and settling a permit the gate never issued (a
// forged token) must give back nothing — no slot, no token, no second
// count of the outcome. newGate returns a fresh gate on clk each time it is
// called; the clock does not move during the check.
//
// Each case runs twice, on fresh gates: once settling every permit once,
// once with the extra settles; the two gates must then look alike in how
// many calls they admit at once (up to 512), in their InFlight() int
// method when they have one, and in failures, when given, which returns
// how many failed calls a gate has counted (nil: not checked). [TestGate]
// runs it for every gate, with [Gate.Failures].
func SettleOnce(t *testing.T, newGate func(clk clock.Clock) levee.Gate, failures func(g levee.Gate) int) {
	RunSettleOnce(std{t}, newGate, failures)
}

// RunSettleOnce is [SettleOnce] for any [T].
func RunSettleOnce(t T, newGate func(clk clock.Clock) levee.Gate, failures func(g levee.Gate) int) {
	t.Helper()
	settleOnce(t, newGate, failures, DefaultGuard)
}

func settleOnce(t T, newGate func(clk clock.Clock) levee.Gate, failures func(g levee.Gate) int, guard time.Duration) {
	t.Helper()
	// Each case runs a scenario twice on fresh gates: once settling every
	// permit once, once with the extra settles; the two gates must then
	// be alike.
	cases := []struct {
		name  string
		after string
		run   func(t T, g levee.Gate, extra bool) []levee.Permit // returns the permits still held
	}{
		{
			name:  "twice",
			after: "one permit was settled three times",
			run: func(t T, g levee.Gate, extra bool) []levee.Permit {
				p := mustAcquire(t, g)
				p.Done(errCall)
				if extra {
					p.Done(errCall)
					p.Record(levee.Outcome{Result: levee.Success})
				}
				return nil
			},
		},
		{
			name:  "earlier admission",
			after: "a permit of an earlier admission was settled again",
			run: func(t T, g levee.Gate, extra bool) []levee.Permit {
				old := mustAcquire(t, g)
				old.Done(nil)
				cur := mustAcquire(t, g) // may reuse what old held
				if extra {
					old.Done(errCall)
				}
				return []levee.Permit{cur}
			},
		},
		{
			name:  "forged",
			after: "forged permits were settled",
			run: func(t T, g levee.Gate, extra bool) []levee.Permit {
				p := mustAcquire(t, g)
				r, ok := g.(levee.Releaser)
				if extra && ok {
					tok := p.Token()
					for _, forged := range []uint64{0, 1, tok + 1, tok - 1, tok ^ 1<<32, tok + 2<<32, ^tok, ^uint64(0)} {
						if forged != tok {
							levee.NewPermit(r, forged, p.Start()).Done(errCall)
						}
					}
				}
				return []levee.Permit{p}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t T) {
			want := observe(t, newGate, failures, tc.run, false, guard)
			got := observe(t, newGate, failures, tc.run, true, guard)
			if got.failures != want.failures {
				t.Errorf("failures counted = %d after %s, want %d as when every permit is settled once", got.failures, tc.after, want.failures)
			}
			if got.inFlight != want.inFlight {
				t.Errorf("InFlight() = %d after %s, want %d as when every permit is settled once", got.inFlight, tc.after, want.inFlight)
			}
			if got.admits != want.admits {
				t.Errorf("admits %d calls at once after %s, want %d as when every permit is settled once", got.admits, tc.after, want.admits)
			}
		})
	}
}

// state is what the settle-once check sees of a gate.
type state struct{ failures, inFlight, admits int }

func observe(t T, newGate func(clk clock.Clock) levee.Gate, failures func(g levee.Gate) int,
	run func(t T, g levee.Gate, extra bool) []levee.Permit, extra bool, guard time.Duration) state {
	t.Helper()
	g := newGate(clocktest.New(time.Time{}))
	if g == nil {
		t.Fatalf("newGate returned a nil gate")
	}
	held := run(t, g, extra)
	var st state
	if failures != nil {
		st.failures = failures(g)
	}
	if f, ok := g.(interface{ InFlight() int }); ok {
		st.inFlight = f.InFlight()
	}
	if !within(guard, func() { st.admits = admits(g) }) {
		t.Fatalf("Acquire with a context that ends after %v did not return within %v", probeWait, guard)
	}
	for _, p := range held {
		p.Done(nil)
	}
	return st
}

func mustAcquire(t T, g levee.Gate) levee.Permit {
	t.Helper()
	p, err := g.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire() = %v, want admission", err)
	}
	return p
}

// admits returns how many calls g admits at once, up to maxProbe, and
// settles them.
func admits(g levee.Gate) int {
	var held []levee.Permit
	defer func() {
		for _, p := range held {
			p.Record(levee.Outcome{Result: levee.Success})
		}
	}()
	for len(held) < maxProbe {
		ctx, cancel := context.WithTimeout(context.Background(), probeWait)
		p, err := g.Acquire(ctx)
		cancel()
		if err != nil {
			break
		}
		held = append(held, p)
	}
	return len(held)
}
