// Package gateway holds the gateway-versus-proxies benchmark: the same
// loopback request path measured through no proxy, nginx, HAProxy, Caddy, a
// pooled httputil.ReverseProxy and `levee serve`, each proxy pinned to its own
// core. The harness is the command in cmd/gatewaybench; `make bench-gateway`
// runs it. It is not part of `make test`: it needs wrk and the peer proxies
// installed, and it takes about two minutes.
package gateway

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// bufferPool lends the 32 KiB copy buffers httputil.ReverseProxy uses for
// response bodies, so that a proxied request does not allocate one.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// NewPooledProxy returns the tuned baseline proxy: httputil.ReverseProxy to
// target with a buffer pool and a transport that keeps up to 512 idle
// connections to the upstream, so that no request pays for a dial.
func NewPooledProxy(target *url.URL) *httputil.ReverseProxy {
	tr := &http.Transport{
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		Transport:  tr,
		BufferPool: &bufferPool{},
	}
}

var _ httputil.BufferPool = (*bufferPool)(nil)
