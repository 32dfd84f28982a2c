package proxy

import (
	"net/http"

	"github.com/levee-go/levee/observe"
)

// startSpan starts the request's server span, continuing the caller's W3C
// trace context: ex keeps the span (rewriteRequest passes it upstream in
// traceparent) and the returned request carries it in its context.
func (p *Proxy) startSpan(r *http.Request, ex *exchange) *http.Request {
	r, ex.span = p.tracing.Start(r)
	return r
}

// endSpan ends the request's span with its route, upstream, target,
// status and the reason the gateway answered itself.
func (p *Proxy) endSpan(w *statusWriter, ex *exchange) {
	e := observe.SpanEnd{Status: w.status, Reason: w.Header().Get(ReasonHeader)}
	if w.aborted {
		e.Status = 0
	}
	if ex.route != nil {
		e.Route, e.Upstream = ex.route.name, ex.route.upstream.name
	}
	if ex.target != nil {
		e.Target = ex.target.url.Host
	}
	ex.span.End(e)
}
