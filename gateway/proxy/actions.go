package proxy

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/concurrency"
	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/ratelimit"
)

// Run-time actions change one Proxy's policies while it serves: an
// operator forces a breaker, changes a limit, injects a fault or drains a
// target. They belong to the runtime they were made on: a reload builds a
// new Proxy from the configuration, and every action is gone with the old
// one. Each action is safe to call concurrently with requests.

// Errors of the run-time actions. Each is wrapped with the name of what
// was asked for; test with [errors.Is].
var (
	// ErrNotFound: no route, upstream or target has the name given.
	ErrNotFound = errors.New("proxy: not found")
	// ErrUnsupported: the action does not apply to what was named as it is
	// configured, such as a rate limit on a route without one.
	ErrUnsupported = errors.New("proxy: not supported")
	// ErrInvalid: a value given to an action is out of range.
	ErrInvalid = errors.New("proxy: invalid value")
)

// BreakerMode is how a breaker decides its state.
type BreakerMode string

// The breaker modes of [Proxy.SetBreakerMode].
const (
	// BreakerAuto is the breaker's own state machine: closed, open and
	// half-open as the calls' outcomes decide ([breaker.Breaker.Reset],
	// which also empties its window).
	BreakerAuto BreakerMode = "auto"
	// BreakerOpen holds the breaker open: every request is refused (or
	// answered by the route's fallback) ([breaker.Breaker.ForceOpen]).
	BreakerOpen BreakerMode = "open"
	// BreakerClosed holds the breaker closed: every request goes through,
	// and outcomes are still counted for the state, but the breaker never
	// trips ([breaker.Breaker.MetricsOnly]).
	BreakerClosed BreakerMode = "closed"
	// BreakerDisabled turns the breaker off: every request goes through
	// and nothing is counted ([breaker.Breaker.Disable]).
	BreakerDisabled BreakerMode = "disabled"
)

// ParseBreakerMode returns the mode named s: auto, open, closed or
// disabled.
func ParseBreakerMode(s string) (BreakerMode, error) {
	switch m := BreakerMode(s); m {
	case BreakerAuto, BreakerOpen, BreakerClosed, BreakerDisabled:
		return m, nil
	}
	return "", fmt.Errorf("%w: breaker mode %q: must be auto, open, closed or disabled", ErrInvalid, s)
}

// SetBreakerMode forces the breaker of the upstream named upstream, or of
// its target named target (host:port) when target is not empty, into
// mode. An upstream with a breaker per target takes the mode on every
// target's breaker when target is empty.
func (p *Proxy) SetBreakerMode(upstream, target string, mode BreakerMode) error {
	if _, err := ParseBreakerMode(string(mode)); err != nil {
		return err
	}
	u, err := p.upstreamNamed(upstream)
	if err != nil {
		return err
	}
	var bs []*breaker.Breaker
	switch {
	case target != "":
		t, err := u.targetNamed(target)
		if err != nil {
			return err
		}
		if t.breaker == nil {
			return fmt.Errorf("%w: upstream %s has no breaker per target (breaker.per_target)", ErrUnsupported, upstream)
		}
		bs = append(bs, t.breaker)
	case u.breaker != nil:
		bs = append(bs, u.breaker)
	case u.perTarget:
		for _, t := range u.pool().targets {
			bs = append(bs, t.breaker)
		}
	default:
		return fmt.Errorf("%w: upstream %s has no breaker", ErrUnsupported, upstream)
	}
	for _, b := range bs {
		switch mode {
		case BreakerOpen:
			b.ForceOpen()
		case BreakerClosed:
			b.MetricsOnly()
		case BreakerDisabled:
			b.Disable()
		default:
			b.Reset()
		}
	}
	return nil
}

// Drain stops sending new requests to the target named target (host:port)
// of upstream, or, with drained false, takes it back. Requests in flight
// to it finish. A drained target is passed over as an unhealthy one is:
// when every target of the upstream is unavailable, they all take
// requests again (panic mode), so draining the last target does not stop
// the upstream.
func (p *Proxy) Drain(upstream, target string, drained bool) error {
	u, err := p.upstreamNamed(upstream)
	if err != nil {
		return err
	}
	t, err := u.targetNamed(target)
	if err != nil {
		return err
	}
	t.drained.Store(drained)
	return nil
}

// SetRateLimit changes the rate and burst (requests; 0 means the rate's
// count) of the route named route's local rate limit, keeping the tokens
// every key holds (capped at the new burst). A route without a rate limit,
// or with one shared through Redis, returns [ErrUnsupported].
func (p *Proxy) SetRateLimit(route string, rate config.Rate, burst int) error {
	rt, err := p.routeNamed(route)
	if err != nil {
		return err
	}
	if rate.Count <= 0 || rate.Count > math.MaxInt32 || rate.Per <= 0 {
		return fmt.Errorf("%w: rate %v: must be a positive count per a positive period", ErrInvalid, rate)
	}
	if burst < 0 || burst > math.MaxInt32 {
		return fmt.Errorf("%w: burst %d: must be from 0 to %d", ErrInvalid, burst, math.MaxInt32)
	}
	if rt.admission == nil || rt.admission.limit == nil {
		return fmt.Errorf("%w: route %s has no rate limit (policies.rate_limit)", ErrUnsupported, route)
	}
	l := rt.admission.limit
	k, ok := l.lim.(*ratelimit.Keyed)
	if l.shared != nil || !ok {
		return fmt.Errorf("%w: route %s's rate limit is shared through Redis; change it in the configuration", ErrUnsupported, route)
	}
	if err := k.SetRate(ratelimit.Rate{Events: int(rate.Count), Per: rate.Per}); err != nil {
		return fmt.Errorf("%w: rate %v: %v", ErrInvalid, rate, err)
	}
	if err := k.SetBurst(burst); err != nil {
		return fmt.Errorf("%w: burst %d: %v", ErrInvalid, burst, err)
	}
	return nil
}

// SetConcurrency changes the limit (requests in flight, ≥ 1) of the route
// named route's fixed concurrency limit (a bulkhead). Adaptive limits find
// their own and per_key limits hold one per key; both return
// [ErrUnsupported], as does a route without a concurrency limit.
func (p *Proxy) SetConcurrency(route string, limit int) error {
	rt, err := p.routeNamed(route)
	if err != nil {
		return err
	}
	if limit < 1 || limit > math.MaxInt32 {
		return fmt.Errorf("%w: limit %d: must be from 1 to %d", ErrInvalid, limit, math.MaxInt32)
	}
	if rt.admission == nil || rt.admission.conc == nil {
		return fmt.Errorf("%w: route %s has no concurrency limit (policies.concurrency)", ErrUnsupported, route)
	}
	g := rt.admission.conc
	b, ok := g.gate.(*concurrency.Bulkhead)
	if g.keyed != nil || !ok {
		return fmt.Errorf("%w: route %s's concurrency limit is adaptive or per key; only a fixed limit (max) can be set", ErrUnsupported, route)
	}
	if err := b.SetLimit(limit); err != nil {
		return fmt.Errorf("%w: limit %d: %v", ErrInvalid, limit, err)
	}
	return nil
}

// SetFault starts, or replaces, fault injection on the route named route:
// f as it would be written in the route's policies.fault (delay, abort or
// both, and an optional header). The change is atomic: a request sees the
// old faults or the new ones.
func (p *Proxy) SetFault(route string, f config.Fault) error {
	rt, err := p.routeNamed(route)
	if err != nil {
		return err
	}
	if err := checkFault(f, rt.timeout); err != nil {
		return err
	}
	in, err := newFaultInjector(f, rt.name, p.clk, p.seed)
	if err != nil {
		return fmt.Errorf("%w: fault: %v", ErrInvalid, err)
	}
	in.set = true
	rt.call.fault.Store(in)
	return nil
}

// StopFault stops fault injection on the route named route, configured or
// set at run time. Stopping a route without faults does nothing.
func (p *Proxy) StopFault(route string) error {
	rt, err := p.routeNamed(route)
	if err != nil {
		return err
	}
	rt.call.fault.Store(nil)
	return nil
}

// checkFault applies the configuration's rules for a fault section.
func checkFault(f config.Fault, timeout time.Duration) error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: fault.%s: %s", ErrInvalid, field, fmt.Sprintf(format, args...))
	}
	if f.Delay == nil && f.Abort == nil {
		return fmt.Errorf("%w: fault: must set delay, abort or both", ErrInvalid)
	}
	if d := f.Delay; d != nil {
		switch {
		case d.Duration <= 0:
			return bad("delay.duration", "must be positive")
		case d.Duration >= timeout:
			return bad("delay.duration", "must be shorter than the route timeout (%v)", timeout)
		case !validPercent(d.Percent):
			return bad("delay.percent", "must be between 0%% and 100%%")
		}
	}
	if a := f.Abort; a != nil {
		switch {
		case a.Status < 400 || a.Status > 599:
			return bad("abort.status", "must be a status code from 400 to 599")
		case !validPercent(a.Percent):
			return bad("abort.percent", "must be between 0%% and 100%%")
		}
	}
	if f.Header != "" && !validToken(f.Header) {
		return bad("header", "%q is not a valid header field name", f.Header)
	}
	return nil
}

func validPercent(p config.Percent) bool { return p >= 0 && p <= 100 }

// validToken reports whether s is an RFC 9110 token, as a field name must be.
func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c < 0x80 && c > ' ' && c != 0x7f && !isSeparator(c):
		default:
			return false
		}
	}
	return s != ""
}

func isSeparator(c byte) bool {
	for i := 0; i < len(`"(),/:;<=>?@[\]{}`); i++ {
		if `"(),/:;<=>?@[\]{}`[i] == c {
			return true
		}
	}
	return false
}

func (p *Proxy) routeNamed(name string) (*route, error) {
	for _, rt := range p.routes {
		if rt.name == name {
			return rt, nil
		}
	}
	return nil, fmt.Errorf("%w: no route is named %q", ErrNotFound, name)
}

func (p *Proxy) upstreamNamed(name string) (*upstream, error) {
	for _, u := range p.upstreams {
		if u.name == name {
			return u, nil
		}
	}
	return nil, fmt.Errorf("%w: no upstream is named %q", ErrNotFound, name)
}

// targetNamed finds a target by its host:port.
func (u *upstream) targetNamed(name string) (*target, error) {
	for _, t := range u.pool().targets {
		if t.url.Host == name {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w: upstream %s has no target %q", ErrNotFound, u.name, name)
}
