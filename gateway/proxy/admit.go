package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/gateway/config"
)

// Reasons the gateway refuses a request before forwarding it, in
// [ReasonHeader] and the problem+json body, by the route's admission
// policies (routes[].policies.shed, rate_limit and concurrency).
const (
	// ReasonShed: the route is overloaded and the request's criticality is
	// among those shed first (503, with Retry-After).
	ReasonShed = "shed"
	// ReasonRateLimited: the request's key is over the route's rate limit
	// (429, with Retry-After and the RateLimit fields).
	ReasonRateLimited = "rate_limited"
	// ReasonConcurrency: the route (or the request's key) has as many
	// requests in flight as its concurrency limit allows (503, with
	// Retry-After when the limit suggests a wait).
	ReasonConcurrency = "concurrency_limited"
)

// admission is a route's admission policies, applied in the order of the
// request path: shedding, then the rate limit, then the concurrency limit.
// Each is nil when the route does not configure it; a nil *admission
// admits everything.
type admission struct {
	p     *Proxy
	route string
	shed  *shedGate
	limit *rateLimit
	conc  *concGate
}

// admitted is what an admitted request holds until it ends: the permits it
// must settle. The zero value settles to nothing.
type admitted struct {
	shed, cpu, conc levee.Permit
}

// newAdmission compiles a route's admission policies.
func (p *Proxy) newAdmission(rc config.Route) (*admission, error) {
	pol := rc.Policies
	if pol.Shed == nil && pol.RateLimit == nil && pol.Concurrency == nil {
		return nil, nil
	}
	a := &admission{p: p, route: rc.Name}
	var err error
	if pol.Shed != nil {
		if a.shed, err = p.newShedGate(rc.Name, *pol.Shed); err != nil {
			return nil, err
		}
	}
	if pol.RateLimit != nil {
		if a.limit, err = p.newRateLimit(rc.Name, *pol.RateLimit); err != nil {
			return nil, err
		}
	}
	if pol.Concurrency != nil {
		if a.conc, err = p.newConcGate(rc.Name, *pol.Concurrency); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// admit runs r through the route's admission policies. When one refuses,
// it has answered the request (429 or 503 with a problem+json body) and ok
// is false; otherwise the caller settles the permits with
// [admitted.settle] when the request ends.
func (a *admission) admit(w http.ResponseWriter, r *http.Request, ex *exchange) (adm admitted, ok bool) {
	if a == nil {
		return adm, true
	}
	ctx := r.Context()
	if a.shed != nil {
		p, cpu, err := a.shed.acquire(ctx, r)
		if err != nil {
			a.refuse(w, r, ex, err, ReasonShed, "the gateway is overloaded and sheds requests of this criticality first")
			return adm, false
		}
		adm.shed, adm.cpu = p, cpu
	}
	if a.limit != nil && !a.limit.admit(w, r, ex, a.route) {
		adm.unshed()
		return admitted{}, false
	}
	if a.conc != nil {
		p, err := a.conc.acquire(ctx, r, ex)
		if err != nil {
			adm.unshed()
			a.refuse(w, r, ex, err, ReasonConcurrency, "the route has as many requests in flight as its concurrency limit allows")
			return admitted{}, false
		}
		adm.conc = p
	}
	return adm, true
}

// settle tells the admission policies how the request ended: latency and
// failures teach the adaptive limit and the shedder. When a fallback
// answered for a failed upstream, the upstream's failure is what counts.
func (adm admitted) settle(r *http.Request, w *statusWriter, ex *exchange) {
	status := w.status
	if ex.failed != 0 {
		status = ex.failed
	}
	o := levee.Outcome{Result: outcome(r, status, w.aborted)}
	adm.conc.Record(o)
	adm.shed.Record(o)
	adm.cpu.Record(o)
}

// unshed settles the shedders' permits of a request a later policy
// refused: it was never forwarded, so it teaches them nothing.
func (adm admitted) unshed() {
	adm.shed.Record(levee.Outcome{Result: levee.Ignored})
	adm.cpu.Record(levee.Outcome{Result: levee.Ignored})
}

// refuse answers a shedding or concurrency refusal: through the route's
// fallback when it has one (the overload is the kind of failure a
// fallback is for), else with 503. A rate-limit refusal never falls back:
// it tells the client to slow down, which a fallback's answer would not.
func (a *admission) refuse(w http.ResponseWriter, r *http.Request, ex *exchange, err error, reason, detail string) {
	if ex != nil && ex.route != nil && ex.route.call.fallback != nil {
		a.p.fallbackRejected(w, r, ex)
		return
	}
	refuse(w, err, reason, a.route, detail)
}

// refuse answers 503 for a shedding or concurrency refusal, with
// Retry-After when the policy suggests a wait.
func refuse(w http.ResponseWriter, err error, reason, route, detail string) {
	if wait, ok := levee.RetryAfter(err); ok {
		setRetryAfter(w.Header(), wait)
	}
	if !errors.Is(err, levee.ErrRejected) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		detail = "the request could not be admitted"
	}
	writeProblem(w, http.StatusServiceUnavailable, reason, route, detail)
}

// keyer builds a limiter's key from a request: config.KeyPart values
// compiled once, their values joined with keySep.
type keyer []keyPart

type keyPart struct {
	kind keyKind
	name string // canonical header name, or cookie name
}

type keyKind uint8

const (
	keyClientIP keyKind = iota
	keyRoute
	keyHeader
	keyCookie
)

// keySep separates the parts of a key; it cannot appear in a header value
// that net/http accepts as valid, nor in an address or route name.
const keySep = "\x1f"

func compileKey(parts []config.KeyPart) keyer {
	k := make(keyer, 0, len(parts))
	for _, p := range parts {
		s := string(p)
		switch {
		case s == "client_ip":
			k = append(k, keyPart{kind: keyClientIP})
		case s == "route":
			k = append(k, keyPart{kind: keyRoute})
		case strings.HasPrefix(s, "header:"):
			k = append(k, keyPart{kind: keyHeader, name: textproto.CanonicalMIMEHeaderKey(s[len("header:"):])})
		case strings.HasPrefix(s, "cookie:"):
			k = append(k, keyPart{kind: keyCookie, name: s[len("cookie:"):]})
		}
	}
	return k
}

// key returns r's key. A missing header or cookie is an empty part: every
// request without it shares one key. A key of one header or the route
// alone is built without allocating.
func (k keyer) key(r *http.Request, ex *exchange, route string) string {
	if len(k) == 1 {
		return k[0].value(r, ex, route)
	}
	var b strings.Builder
	for i, p := range k {
		if i > 0 {
			b.WriteString(keySep)
		}
		b.WriteString(p.value(r, ex, route))
	}
	return b.String()
}

func (p keyPart) value(r *http.Request, ex *exchange, route string) string {
	switch p.kind {
	case keyClientIP:
		if ex != nil && ex.client.IsValid() {
			return ex.client.String()
		}
		return ""
	case keyRoute:
		return route
	case keyHeader:
		if vs := r.Header[p.name]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	case keyCookie:
		if c, err := r.Cookie(p.name); err == nil {
			return c.Value
		}
	}
	return ""
}
