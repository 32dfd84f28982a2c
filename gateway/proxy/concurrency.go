package proxy

import (
	"context"
	"fmt"
	"net/http"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/concurrency"
	"github.com/levee-go/levee/gateway/config"
)

// concGate is a route's concurrency limit: one gate for the route, or,
// with per_key, a gate per key (concurrency.Keyed), so that one tenant's
// flood cannot take another tenant's slots.
type concGate struct {
	gate  levee.Gate
	keyed *concurrency.Keyed
	key   keyer
	route string
}

func (p *Proxy) newConcGate(route string, cc config.Concurrency) (*concGate, error) {
	g := &concGate{route: route}
	newGate, err := p.concFactory(route, cc)
	if err != nil {
		return nil, err
	}
	if len(cc.PerKey) == 0 {
		if g.gate, err = newGate(""); err != nil {
			return nil, err
		}
		return g, nil
	}
	g.key = compileKey(cc.PerKey)
	g.keyed, err = concurrency.NewKeyed(concurrency.KeyedConfig{Name: route, New: newGate})
	if err != nil {
		return nil, fmt.Errorf("concurrency: %w", err)
	}
	return g, nil
}

// concFactory returns the function that makes one gate of the policy: a
// bulkhead (max, with a queue of as many requests when queue_timeout is
// set) or an adaptive limit with its own algorithm.
func (p *Proxy) concFactory(route string, cc config.Concurrency) (func(string) (concurrency.KeyGate, error), error) {
	if cc.Adaptive == nil {
		bc := concurrency.BulkheadConfig{Name: route, MaxConcurrent: cc.Max, Clock: p.clk}
		if cc.QueueTimeout > 0 {
			bc.MaxQueue, bc.MaxWait = cc.Max, cc.QueueTimeout
		}
		if _, err := concurrency.NewBulkhead(bc); err != nil {
			return nil, fmt.Errorf("concurrency: %w", err)
		}
		return func(string) (concurrency.KeyGate, error) { return concurrency.NewBulkhead(bc) }, nil
	}
	a := *cc.Adaptive
	initial := a.Initial
	if initial == 0 {
		initial = a.Min
	}
	newAlgorithm := func() (concurrency.Algorithm, error) {
		switch a.Algorithm {
		case config.Vegas:
			return concurrency.NewVegas(concurrency.VegasConfig{InitialLimit: initial, MinLimit: a.Min, MaxLimit: a.Max})
		case config.AIMD:
			return concurrency.NewAIMD(concurrency.AIMDConfig{InitialLimit: initial, MinLimit: a.Min, MaxLimit: a.Max})
		}
		return concurrency.NewGradient2(concurrency.Gradient2Config{InitialLimit: initial, MinLimit: a.Min, MaxLimit: a.Max})
	}
	newGate := func(string) (concurrency.KeyGate, error) {
		alg, err := newAlgorithm()
		if err != nil {
			return nil, err
		}
		return concurrency.NewLimiter(concurrency.LimiterConfig{Name: route, Algorithm: alg, Clock: p.clk})
	}
	if _, err := newGate(""); err != nil {
		return nil, fmt.Errorf("concurrency.adaptive: %w", err)
	}
	return newGate, nil
}

// acquire admits r, or refuses it with the gate's error.
func (g *concGate) acquire(ctx context.Context, r *http.Request, ex *exchange) (levee.Permit, error) {
	if g.keyed != nil {
		return g.keyed.AcquireKey(ctx, g.key.key(r, ex, g.route))
	}
	return g.gate.Acquire(ctx)
}
