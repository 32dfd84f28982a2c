package slo

import (
	"context"
	"time"

	"github.com/levee-go/levee"
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
	return levee.NewPermit(g, permitTimed, g.slos[0].clk.Nanotime()), nil
}

// Release records the outcome of a call admitted by [Group.Acquire] in every
// SLO, with its latency measured from the permit when the outcome has none.
func (g *Group) Release(p levee.Permit, o levee.Outcome) {
	if o.Result == levee.Ignored || len(g.slos) == 0 {
		return
	}
	now := g.slos[0].clk.Nanotime()
	if o.Latency == 0 && p.Token() == permitTimed {
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
