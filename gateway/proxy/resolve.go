package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/gateway/config"
)

// Resolver looks up the addresses of a host name. [*net.Resolver] is one;
// tests pass their own.
type Resolver interface {
	LookupHost(ctx context.Context, host string) (addrs []string, err error)
}

// resolveTimeout bounds one round of look-ups.
const resolveTimeout = 5 * time.Second

// resolution keeps an upstream's targets in step with DNS: every target
// given by host name stands for one target per address the name resolves
// to, each with the name's weight. It resolves at start and then every
// resolve_interval. A target whose address stays keeps its state (health,
// outlier ejection, breaker, requests in flight); an address that appears
// becomes a new target; one that disappears leaves balancing, while the
// requests it has in flight finish. When a name fails to resolve, its last
// good addresses stay (at start, the name itself stays, resolved by the
// dialer at each new connection), and the failure is logged and counted.
type resolution struct {
	u        *upstream
	specs    []targetSpec
	res      Resolver
	clk      clock.Clock
	log      *slog.Logger
	interval time.Duration // 0: resolved once, at start

	ctx    context.Context // cancelled by stop: cuts a look-up in progress
	cancel context.CancelFunc

	mu       sync.Mutex // one round at a time; the timer
	timer    clock.Timer
	stopped  bool
	firstErr error // the look-ups at start, counted by start once metrics exist
}

// targetSpec is one configured target; name is its host name, "" for an
// address.
type targetSpec struct {
	url    *url.URL
	weight int
	name   string
	last   []string // the name's last good addresses (host:port), in order
}

// newResolution resolves the host names among u's targets, as configured
// in uc, and makes their addresses u's targets. It returns nil when every
// target is an address. Call start once the upstream is complete.
func newResolution(u *upstream, uc config.Upstream, res Resolver, clk clock.Clock, log *slog.Logger) *resolution {
	specs := make([]targetSpec, 0, len(uc.Targets))
	named := false
	serverName := tlsServerName(u, uc)
	for i, t := range u.pool().targets {
		sp := targetSpec{url: t.url, weight: uc.Targets[i].Weight}
		host := t.url.Hostname()
		_, err := netip.ParseAddr(host)
		// An https target is verified against the name it was dialled by:
		// by address only when the transport knows which name to verify.
		if err != nil && (t.url.Scheme != "https" || serverName != "") {
			sp.name, named = host, true
		}
		specs = append(specs, sp)
	}
	if !named {
		return nil
	}
	if res == nil {
		res = net.DefaultResolver
	}
	r := &resolution{u: u, specs: specs, res: res, clk: clock.Or(clk), log: log, interval: uc.ResolveInterval}
	u.transport.DialContext = dialVia(res, u.transport.DialContext)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.refresh()
	return r
}

// tlsServerName returns the name the certificates of u's https targets
// are verified against once they are dialled by address:
// transport.tls_server_name, or else the host name of the https targets
// when they all have the same one, which then becomes the transport's
// server name. "" means https targets given by name are not resolved here
// but by the dialer, at each new connection.
func tlsServerName(u *upstream, uc config.Upstream) string {
	if uc.Transport.TLSServerName != "" {
		return uc.Transport.TLSServerName
	}
	name := ""
	for _, t := range u.pool().targets {
		if t.url.Scheme != "https" {
			continue
		}
		if _, err := netip.ParseAddr(t.url.Hostname()); err == nil {
			return "" // an address beside: no single name to verify
		}
		if name != "" && name != t.url.Hostname() {
			return ""
		}
		name = t.url.Hostname()
	}
	if name != "" {
		if u.transport.TLSClientConfig == nil {
			u.transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		u.transport.TLSClientConfig.ServerName = name
	}
	return name
}

// start counts the look-ups made at start and schedules the next ones,
// every interval.
func (r *resolution) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.u.metrics; m != nil {
		m.Resolved(r.u.name, r.firstErr, len(r.u.pool().targets))
	}
	if r.interval > 0 && !r.stopped {
		r.timer = r.clk.AfterFunc(r.interval, r.tick)
	}
}

// stop ends the look-ups; one in progress is cut and changes nothing.
func (r *resolution) stop() {
	r.cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	if r.timer != nil {
		r.timer.Stop()
	}
}

func (r *resolution) tick() {
	r.refresh()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.stopped {
		r.timer.Reset(r.interval)
	}
}

// refresh runs one round: it looks every name up, then swaps in the new
// set of targets if it differs.
func (r *resolution) refresh() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	ctx, cancel := context.WithTimeout(r.ctx, resolveTimeout)
	defer cancel()
	var errs []error
	for i := range r.specs {
		sp := &r.specs[i]
		if sp.name == "" {
			continue
		}
		addrs, err := r.lookup(ctx, sp)
		if err != nil {
			errs = append(errs, err)
			r.log.Warn("proxy: resolving a target failed; its last good addresses stay",
				"upstream", r.u.name, "target", sp.url.Host, "addresses", sp.last, "error", err)
			continue
		}
		sp.last = addrs
	}
	if r.ctx.Err() != nil {
		return // stopping
	}
	n := r.apply()
	if r.timer == nil { // at start: metrics come later
		r.firstErr = errors.Join(errs...)
	} else if m := r.u.metrics; m != nil {
		m.Resolved(r.u.name, errors.Join(errs...), n)
	}
}

// lookup resolves sp's name to host:port addresses, sorted, without
// duplicates.
func (r *resolution) lookup(ctx context.Context, sp *targetSpec) ([]string, error) {
	ips, err := r.res.LookupHost(ctx, sp.name)
	if err == nil && len(ips) == 0 {
		err = fmt.Errorf("%s has no address", sp.name)
	}
	if err != nil {
		return nil, err
	}
	port := sp.url.Port()
	if port == "" {
		port = "80"
		if sp.url.Scheme == "https" {
			port = "443"
		}
	}
	addrs := make([]string, 0, len(ips))
	for _, ip := range ips {
		addrs = append(addrs, net.JoinHostPort(ip, port))
	}
	slices.Sort(addrs)
	return slices.Compact(addrs), nil
}

// apply makes the targets the specs stand for now the upstream's: the same
// target for an address it had, a new one for a new address. It tells the
// health checker about targets that came and went and returns how many
// targets there are.
func (r *resolution) apply() int {
	u := r.u
	old := u.pool().targets
	byHost := make(map[string]*target, len(old))
	for _, t := range old {
		byHost[t.url.Host] = t
	}
	next := make([]*target, 0, len(old))
	seen := map[string]bool{}
	var added []*target
	keep := func(host string, mk func() (*target, error)) {
		if seen[host] {
			return // two names, one address: one target
		}
		seen[host] = true
		if t, ok := byHost[host]; ok {
			next = append(next, t)
			return
		}
		t, err := mk()
		if err != nil { // only a bad breaker configuration, refused at start
			r.log.Error("proxy: new target not added", "upstream", u.name, "target", host, "error", err)
			return
		}
		next = append(next, t)
		added = append(added, t)
	}
	for _, sp := range r.specs {
		if sp.name == "" || len(sp.last) == 0 { // an address, or a name never resolved
			keep(sp.url.Host, func() (*target, error) { return u.newTarget(sp.url, sp.weight) })
			continue
		}
		for _, a := range sp.last {
			keep(a, func() (*target, error) {
				tu := *sp.url
				tu.Host = a
				return u.newTarget(&tu, sp.weight)
			})
		}
	}
	if len(next) == 0 {
		return len(old) // never leave the upstream without targets
	}
	var removed []*target
	for _, t := range old {
		if !seen[t.url.Host] {
			removed = append(removed, t)
		}
	}
	if len(added) == 0 && len(removed) == 0 {
		return len(next)
	}
	for _, t := range added {
		if u.metrics != nil {
			u.instrumentTarget(t)
		}
	}
	u.setTargets(next)
	if u.checks != nil {
		for _, t := range added {
			u.checks.add(t)
		}
		for _, t := range removed {
			u.checks.remove(t)
		}
	}
	r.log.Info("proxy: upstream targets changed", "upstream", u.name,
		"added", hosts(added), "removed", hosts(removed), "targets", len(next))
	return len(next)
}

// dialVia returns dial with host names looked up by res first, so that a
// target left under its name (never resolved yet, or https without a name
// to verify by address) is resolved by the same resolver as the others.
// The addresses are tried in order.
func dialVia(res Resolver, dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return dial(ctx, network, addr)
		}
		if _, err := netip.ParseAddr(host); err == nil {
			return dial(ctx, network, addr)
		}
		ips, err := res.LookupHost(ctx, host)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		err = fmt.Errorf("%s has no address", host)
		for _, ip := range ips {
			c, derr := dial(ctx, network, net.JoinHostPort(ip, port))
			if derr == nil {
				return c, nil
			}
			err = derr
		}
		return nil, err
	}
}

func hosts(ts []*target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.url.Host
	}
	return out
}

var _ Resolver = (*net.Resolver)(nil)
