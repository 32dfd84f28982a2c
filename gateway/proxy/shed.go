package proxy

import (
	"context"
	"fmt"
	"net/http"
	"net/textproto"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/shed"
)

// shedGate is a route's shedding by criticality: the criticality read from
// a request header (or the route's default), then a fixed in-flight
// shedder (max_in_flight, shed.InFlight) and a CPU-engaged BBR shedder
// (cpu, shed.Shedder), each refusing the least critical requests first.
type shedGate struct {
	header   string // canonical
	def      levee.Criticality
	inflight *shed.InFlight
	cpu      *shed.Shedder
}

func (p *Proxy) newShedGate(route string, sc config.Shed) (*shedGate, error) {
	def, ok := levee.ParseCriticality(sc.Default)
	if !ok {
		return nil, fmt.Errorf("shed.default %q is not a criticality", sc.Default)
	}
	g := &shedGate{header: textproto.CanonicalMIMEHeaderKey(sc.CriticalityHeader), def: def}
	if sc.MaxInFlight > 0 {
		s, err := shed.NewInFlight(shed.InFlightConfig{Name: route, Max: sc.MaxInFlight, Clock: p.clk})
		if err != nil {
			return nil, fmt.Errorf("shed: %w", err)
		}
		g.inflight = s
	}
	if sc.CPU > 0 {
		cpu, err := p.adm.cpuSampler()
		if err != nil {
			return nil, fmt.Errorf("shed.cpu: %w", err)
		}
		s, err := shed.New(shed.Config{Name: route, CPU: cpu, CPUThreshold: min(sc.CPU.Fraction(), 1), Clock: p.clk})
		if err != nil {
			return nil, fmt.Errorf("shed: %w", err)
		}
		g.cpu = s
	}
	return g, nil
}

// criticality returns r's criticality: its header's, or the route's
// default when the header is absent or names no level.
func (g *shedGate) criticality(r *http.Request) levee.Criticality {
	if vs := r.Header[g.header]; len(vs) > 0 {
		if c, ok := levee.ParseCriticality(vs[0]); ok {
			return c
		}
	}
	return g.def
}

// acquire admits r through both shedders, or refuses it with
// levee.ErrShed. Each admission is a permit of its own to settle.
func (g *shedGate) acquire(ctx context.Context, r *http.Request) (inflight, cpu levee.Permit, err error) {
	c := g.criticality(r)
	if g.inflight != nil {
		if inflight, err = g.inflight.AcquireCriticality(ctx, c); err != nil {
			return levee.Permit{}, levee.Permit{}, err
		}
	}
	if g.cpu != nil {
		if cpu, err = g.cpu.AcquireCriticality(ctx, c); err != nil {
			inflight.Record(levee.Outcome{Result: levee.Ignored})
			return levee.Permit{}, levee.Permit{}, err
		}
	}
	return inflight, cpu, nil
}

// cpuSampler returns the process's CPU sampler, made and started on first
// use and stopped by Close.
func (s *admitState) cpuSampler() (*shed.CPUSampler, error) {
	if s.cpu != nil {
		return s.cpu, nil
	}
	cpu, err := shed.NewCPUSampler(shed.CPUConfig{})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	go cpu.Run(ctx)
	s.cpu = cpu
	s.closers = append(s.closers, cancel)
	return cpu, nil
}
