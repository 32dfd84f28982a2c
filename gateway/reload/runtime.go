package reload

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/proxy"
)

// runtime is one applied configuration serving: its version, its Proxy,
// and the count of requests in flight through it, which its drain waits
// for.
type runtime struct {
	version  Version
	cfg      *config.Config
	proxy    *proxy.Proxy
	handlers map[string]http.Handler // by listener name

	inflight atomic.Int64
	retired  atomic.Bool
	drained  chan struct{}
	once     sync.Once
}

func newRuntime(v Version, cfg *config.Config, p *proxy.Proxy) (*runtime, error) {
	rt := &runtime{version: v, cfg: cfg, proxy: p, handlers: map[string]http.Handler{}, drained: make(chan struct{})}
	for _, l := range cfg.Listeners {
		h, err := p.Handler(l.Name)
		if err != nil {
			return nil, err
		}
		rt.handlers[l.Name] = h
	}
	return rt, nil
}

// done ends one request; the last one after retirement signals the drain.
func (rt *runtime) done() {
	if rt.inflight.Add(-1) == 0 && rt.retired.Load() {
		rt.once.Do(func() { close(rt.drained) })
	}
}

// retire marks rt replaced and returns a channel closed once its last
// request in flight ends.
func (rt *runtime) retire() <-chan struct{} {
	rt.retired.Store(true)
	if rt.inflight.Load() == 0 {
		rt.once.Do(func() { close(rt.drained) })
	}
	return rt.drained
}

// listenerHandler serves one listener through whichever runtime is
// current when a request arrives.
type listenerHandler struct {
	c    *Controller
	name string
}

// ServeHTTP counts the request in the current runtime before serving it.
// A request that counted itself in a runtime just replaced (the swap came
// between reading the pointer and counting) uncounts itself and takes the
// new one, so that a retired runtime's drain never misses a request.
func (h *listenerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for {
		rt := h.c.cur.Load()
		rt.inflight.Add(1)
		if h.c.cur.Load() != rt {
			rt.done()
			continue
		}
		h.serve(rt, w, r)
		return
	}
}

func (h *listenerHandler) serve(rt *runtime, w http.ResponseWriter, r *http.Request) {
	defer rt.done()
	rt.handlers[h.name].ServeHTTP(w, r)
}

var _ http.Handler = (*listenerHandler)(nil)
