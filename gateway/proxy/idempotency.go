package proxy

import (
	"fmt"
	"net/http"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/leveehttp"
	"github.com/levee-go/levee/redislimit"
)

// wireIdempotency puts the route's Idempotency-Key policy in front of its
// reverse proxy: a request it answers itself (a replay, 409, 422, 400)
// never reaches the upstream. Keys are scoped by the client address the
// gateway believes (after trusted_proxies).
func (p *Proxy) wireIdempotency(rt *route, rc config.Route) error {
	rt.forward = rt.proxy
	ic := rc.Policies.Idempotency
	if ic == nil {
		return nil
	}
	var store leveehttp.IdempotencyStore
	switch ic.Store {
	case config.RedisStore:
		client, err := p.adm.redisClient()
		if err != nil {
			return fmt.Errorf("idempotency: %w", err)
		}
		s, err := redislimit.NewIdempotencyStore(redislimit.IdempotencyConfig{Client: client, Prefix: "levee:gw:idem:" + rc.Name + ":"})
		if err != nil {
			return fmt.Errorf("idempotency: %w", err)
		}
		store = s
	default:
		s, err := leveehttp.NewIdempotencyMemory(leveehttp.IdempotencyMemoryConfig{Clock: p.clk})
		if err != nil {
			return fmt.Errorf("idempotency: %w", err)
		}
		store = s
	}
	rt.forward = leveehttp.Idempotency(store, leveehttp.IdempotencyOptions{
		Required:         ic.Required,
		TTL:              ic.TTL,
		Lease:            ic.Lease,
		MaxBodyBytes:     int64(ic.MaxBody),
		MaxResponseBytes: int(ic.MaxBody),
		Scope:            clientScope,
	})(rt.proxy)
	return nil
}

// clientScope is the client a request's keys belong to: the address the
// gateway believes, as its rate limits count it.
func clientScope(r *http.Request) string {
	if ex := exchangeOf(r); ex != nil && ex.client.IsValid() {
		return ex.client.String()
	}
	return leveehttp.ClientIP{}.Key(r)
}
