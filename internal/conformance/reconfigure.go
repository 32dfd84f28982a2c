package conformance

import (
	"context"
	"testing"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
)

// SettleOnceAcrossReconfigure is [SettleOnce] with a reconfiguration
// between every admission and its settle: reconfigure applies a new
// configuration to the gate (its Reconfigure method) right after each call
// is admitted, so every permit the check settles, once or again, was issued
// under the configuration before. A gate passes when a permit still counts
// once however its configuration changed while the call ran.
func SettleOnceAcrossReconfigure(t *testing.T, newGate func(clk clock.Clock) levee.Gate, failures func(g levee.Gate) int, reconfigure func(g levee.Gate) error) {
	RunSettleOnceAcrossReconfigure(std{t}, newGate, failures, reconfigure)
}

// RunSettleOnceAcrossReconfigure is [SettleOnceAcrossReconfigure] for any [T].
func RunSettleOnceAcrossReconfigure(t T, newGate func(clk clock.Clock) levee.Gate, failures func(g levee.Gate) int, reconfigure func(g levee.Gate) error) {
	t.Helper()
	wrap := func(clk clock.Clock) levee.Gate {
		g := newGate(clk)
		if g == nil {
			return nil
		}
		return &reconfiguring{Gate: g, reconfigure: reconfigure, t: t}
	}
	var count func(levee.Gate) int
	if failures != nil {
		count = func(g levee.Gate) int { return failures(g.(*reconfiguring).Gate) }
	}
	settleOnce(t, wrap, count, DefaultGuard)
}

// reconfiguring reconfigures its gate after every admission.
type reconfiguring struct {
	levee.Gate
	reconfigure func(levee.Gate) error
	t           T
}

func (r *reconfiguring) Acquire(ctx context.Context) (levee.Permit, error) {
	p, err := r.Gate.Acquire(ctx)
	if err == nil {
		if rerr := r.reconfigure(r.Gate); rerr != nil {
			r.t.Fatalf("Reconfigure = %v, want nil", rerr)
		}
	}
	return p, err
}

// InFlight is the gate's, or 0 for a gate that does not count.
func (r *reconfiguring) InFlight() int {
	if f, ok := r.Gate.(interface{ InFlight() int }); ok {
		return f.InFlight()
	}
	return 0
}

// Release forwards forged permits to the gate when it settles its own.
func (r *reconfiguring) Release(p levee.Permit, o levee.Outcome) {
	if rel, ok := r.Gate.(levee.Releaser); ok {
		levee.NewPermit(rel, p.Token(), p.Start()).Record(o)
	}
}

var _ levee.Releaser = (*reconfiguring)(nil)
