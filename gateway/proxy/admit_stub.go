package proxy

import (
	"context"
	"net/http"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/gateway/config"
)

type shedGate struct{}

func (p *Proxy) newShedGate(string, config.Shed) (*shedGate, error) { return nil, nil }

func (g *shedGate) acquire(context.Context, *http.Request) (levee.Permit, error) {
	return levee.Permit{}, nil
}

type concGate struct{}

func (p *Proxy) newConcGate(string, config.Concurrency) (*concGate, error) { return nil, nil }

func (g *concGate) acquire(context.Context, *http.Request, *exchange) (levee.Permit, error) {
	return levee.Permit{}, nil
}
