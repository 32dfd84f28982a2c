package slo

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/internal/settle"
)

// Group records every outcome into several SLOs, such as one availability
// objective and two latency objectives of the same endpoint
// (99% under 300ms, 99.9% under 1s). Like an [SLO] it is a [levee.Gate]
// that admits every call, so one pipeline step feeds all of them. The SLOs
// of a group must share a clock: the gate path reads the time once, from the
// first SLO's clock, for all of them.
type Group struct {
	slos  []*SLO
	stage levee.Stage

	// permits holds the permits admitted and not yet settled, open counts
	// them: a permit counts its outcome once.
	permits settle.Table
	open    atomic.Int64
}

// NewGroup returns a group of the given SLOs; nil entries are skipped. Its
// stage is the first SLO's.
func NewGroup(slos ...*SLO) *Group {
	g := &Group{stage: StageSLO}
	for _, s := range slos {
		if s != nil {
			g.slos = append(g.slos, s)
		}
	}
	if len(g.slos) > 0 {
		g.stage = g.slos[0].Stage()
	}
	return g
}

// SLOs returns the group's SLOs.
func (g *Group) SLOs() []*SLO { return append([]*SLO(nil), g.slos...) }

// Record counts o in every SLO of the group.
func (g *Group) Record(o levee.Outcome) {
	for _, s := range g.slos {
		s.Record(o)
	}
}

// RecordAt counts o at time now in every SLO of the group.
func (g *Group) RecordAt(now time.Time, o levee.Outcome) {
	for _, s := range g.slos {
		s.RecordAt(now, o)
	}
}

// Stage places the group in a pipeline: the first SLO's stage.
func (g *Group) Stage() levee.Stage { return g.stage }

// Acquire admits every call and remembers when it started.
func (g *Group) Acquire(context.Context) (levee.Permit, error) {
	if len(g.slos) == 0 {
		return levee.Permit{}, nil
	}
	return levee.NewPermit(g, g.permits.Claim(0, g.open.Add(1)), g.slos[0].clk.Nanotime()), nil
}

// Release records the outcome of a call admitted by [Group.Acquire] in every
// SLO, with its latency measured from the permit when the outcome has none.
// A permit settled before, one from an earlier admission and one the group
// did not issue count nothing.
func (g *Group) Release(p levee.Permit, o levee.Outcome) {
	if _, ok := g.permits.Settle(p.Token()); !ok {
		return
	}
	g.open.Add(-1)
	if o.Result == levee.Ignored {
		return
	}
	now := g.slos[0].clk.Nanotime()
	if o.Latency == 0 {
		o.Latency = time.Duration(now - p.Start())
	}
	for _, s := range g.slos {
		s.ring.add(now, s.isGood(o))
	}
}

var (
	_ levee.Gate     = (*Group)(nil)
	_ levee.Releaser = (*Group)(nil)
)
