package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/observe"
)

// upstream is a compiled [config.Upstream]: its targets, the order they
// take requests in, a connection pool, and its breaker.
type upstream struct {
	name      string
	set       atomic.Pointer[targetSet] // the targets now; replaced when DNS answers change (resolve.go)
	transport *http.Transport
	conns     *observe.ConnMetrics // connection-pool metrics; nil without metrics
	breaker   *breaker.Breaker     // nil when the upstream has none or one per target
	perTarget bool                 // every target has its own breaker
	checks    *checker             // active health checks; nil without
	outliers  *outliers            // outlier detection; nil without

	balancing  config.Balancing
	breakerCfg *config.Breaker // per target; nil without breaker.per_target
	clk        clock.Clock
	resolve    *resolution           // re-resolves host names; nil when every target is an address
	metrics    *observe.ProxyMetrics // with Options.Metrics; nil without
}

// targetSet is the targets an upstream balances over, with their
// balancer. It is never changed: a new DNS answer makes a new one.
type targetSet struct {
	targets  []*target
	balancer balancer
}

// pool returns the targets of u now.
func (u *upstream) pool() *targetSet { return u.set.Load() }

// now reads the outlier clock, or returns 0 without outlier detection (no
// target is then ever ejected).
func (u *upstream) now() int64 {
	if u.outliers == nil {
		return 0
	}
	return u.outliers.clk.Nanotime()
}

// target is one instance of an upstream.
type target struct {
	url     *url.URL
	weight  int
	active  atomic.Int64           // requests in flight
	breaker *breaker.Breaker       // with breaker.per_target; nil otherwise
	healthy atomic.Bool            // passes its health checks (always, without them)
	drained atomic.Bool            // taken out of balancing by [Proxy.Drain]
	obs     *observe.TargetMetrics // its request counts; nil without metrics
	unwatch func()                 // stops exporting its breaker's state; nil without

	passes, fails int // consecutive probe results; only its checker touches them

	consec5xx, consecGateway atomic.Int64 // consecutive failures, for outlier detection
	ejectedUntil             atomic.Int64 // outlier ejection's end on the clock; 0 means never ejected
	ejections                int          // times ejected; under outliers.mu

	intervalOK, intervalFailed atomic.Int64 // answers in the current outlier interval
}

// available reports whether t may take a request at now (a reading of the
// outlier clock, or 0 without outlier detection): it passes its health
// checks, is not ejected and is not drained.
func (t *target) available(now int64) bool {
	return t.healthy.Load() && t.ejectedUntil.Load() <= now && !t.drained.Load()
}

// atomicCounter is an atomic counter on a cache line of its own: the
// round-robin position is written by every request.
type atomicCounter struct {
	_ [64]byte
	atomic.Uint64
	_ [56]byte
}

func newUpstream(u config.Upstream, dir string, clk clock.Clock) (*upstream, error) {
	up := &upstream{name: u.Name, balancing: u.Balancing, clk: clk}
	if bc := u.Breaker; bc != nil && bc.PerTarget {
		up.perTarget, up.breakerCfg = true, bc
	}
	var targets []*target
	for _, t := range u.Targets {
		parsed, err := targetURL(t.URL)
		if err != nil {
			return nil, fmt.Errorf("upstream %s: %w", u.Name, err)
		}
		tg, err := up.newTarget(parsed, t.Weight)
		if err != nil {
			return nil, err
		}
		targets = append(targets, tg)
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("upstream %s: no targets", u.Name)
	}
	up.setTargets(targets)
	tr, err := newTransport(u.Transport, dir)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", u.Name, err)
	}
	up.transport = tr
	if bc := u.Breaker; bc != nil && !bc.PerTarget {
		b, err := breaker.New(breakerConfig(u.Name, *bc, clk))
		if err != nil {
			return nil, fmt.Errorf("upstream %s: %w", u.Name, err)
		}
		up.breaker = b
	}
	return up, nil
}

// targetURL parses a target's url: scheme and host, no path.
func targetURL(raw string) (*url.URL, error) {
	s := raw
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	parsed, err := url.Parse(s)
	if err != nil || parsed.Host == "" {
		return nil, fmt.Errorf("target %q is not a URL", raw)
	}
	parsed.Path, parsed.RawPath = "", ""
	return parsed, nil
}

// newTarget makes a healthy target at u, with its own breaker under
// breaker.per_target.
func (u *upstream) newTarget(tu *url.URL, weight int) (*target, error) {
	tg := &target{url: tu, weight: weight}
	tg.healthy.Store(true)
	if u.breakerCfg != nil {
		b, err := breaker.New(breakerConfig(u.name+"/"+tu.Host, *u.breakerCfg, u.clk))
		if err != nil {
			return nil, fmt.Errorf("upstream %s: %w", u.name, err)
		}
		tg.breaker = b
	}
	return tg, nil
}

// setTargets makes targets the ones u balances over from now on.
func (u *upstream) setTargets(targets []*target) {
	u.set.Store(&targetSet{targets: targets, balancer: newBalancer(u.balancing, targets)})
}

// admit picks the target for r and passes the breaker in front of it.
// Targets that failed their health checks or are ejected as outliers are
// passed over, unless none is left (then every target takes requests, as in Envoy's panic mode: a
// broken health check must not take the whole upstream down). With a
// breaker per target, a target whose breaker refuses is passed over too:
// the balancer's choice first, then the others from a random start. The
// error is a breaker's rejection when no target may be called; with
// several, the one that asks for the shortest wait.
func (u *upstream) admit(r *http.Request) (*target, levee.Permit, error) {
	if !u.perTarget {
		var pm levee.Permit
		if u.breaker != nil {
			var err error
			if pm, err = u.breaker.Allow(); err != nil {
				return nil, levee.Permit{}, err
			}
		}
		return u.pickHealthy(r), pm, nil
	}
	first := u.pickHealthy(r)
	pm, err := first.breaker.Allow()
	if err == nil {
		return first, pm, nil
	}
	best := err
	now := u.now()
	ts := u.pool().targets
	anyAvailable := anyAvailable(ts, now)
	n := len(ts)
	start := rand.IntN(n)
	for i := range n {
		t := ts[(start+i)%n]
		if t == first || anyAvailable && !t.available(now) {
			continue
		}
		pm, err := t.breaker.Allow()
		if err == nil {
			return t, pm, nil
		}
		if shorterWait(err, best) {
			best = err
		}
	}
	return nil, levee.Permit{}, best
}

// pickHealthy is the balancer's choice when it is available (healthy and
// not ejected), else another available target from a random start, else
// (none is) the balancer's choice.
func (u *upstream) pickHealthy(r *http.Request) *target {
	set := u.pool()
	t := set.balancer.pick(r)
	now := u.now()
	if t.available(now) {
		return t
	}
	n := len(set.targets)
	start := rand.IntN(n)
	for i := range n {
		if c := set.targets[(start+i)%n]; c.available(now) {
			return c
		}
	}
	return t
}

func anyAvailable(targets []*target, now int64) bool {
	for _, t := range targets {
		if t.available(now) {
			return true
		}
	}
	return false
}

// shorterWait reports whether rejection a asks the caller to wait less than
// b does; a rejection without a wait never does.
func shorterWait(a, b error) bool {
	wa, okA := levee.RetryAfter(a)
	wb, okB := levee.RetryAfter(b)
	return okA && (!okB || wa < wb)
}

// smoothSchedule returns one cycle of smooth weighted round robin (as
// nginx does it): every target appears weight/g times, where g is the
// weights' greatest common divisor, spread out rather than in runs, so
// that a target of weight 3 beside one of weight 1 gets a, a, b, a rather
// than a, a, a, b.
func smoothSchedule(weights []int) []int32 {
	g := 0
	total := 0
	for _, w := range weights {
		g = gcd(g, w)
	}
	w := make([]int, len(weights))
	for i, x := range weights {
		w[i] = x / g
		total += w[i]
	}
	current := make([]int, len(w))
	out := make([]int32, 0, total)
	for range total {
		best := 0
		for i := range w {
			current[i] += w[i]
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		out = append(out, int32(best))
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// newTransport builds the pooled connection transport of an upstream from
// its tuning. Responses are passed through as they come: no compression is
// asked for or undone, no proxy from the environment is used.
func newTransport(t config.Transport, dir string) (*http.Transport, error) {
	dialer := &net.Dialer{Timeout: t.DialTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		MaxIdleConnsPerHost:   t.MaxIdleConnsPerHost,
		IdleConnTimeout:       t.IdleConnTimeout,
		ResponseHeaderTimeout: t.ResponseHeaderTimeout,
		TLSHandshakeTimeout:   t.DialTimeout,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
		DisableCompression:    true,
	}
	if t.TLSServerName != "" || t.CAFile != "" {
		tc := &tls.Config{ServerName: t.TLSServerName, MinVersion: tls.VersionTLS12}
		if t.CAFile != "" {
			name := t.CAFile
			if !filepath.IsAbs(name) && dir != "" {
				name = filepath.Join(dir, name)
			}
			pem, err := os.ReadFile(name)
			if err != nil {
				return nil, fmt.Errorf("transport.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, errors.New("transport.ca_file: no PEM certificate in " + name)
			}
			tc.RootCAs = pool
		}
		tr.TLSClientConfig = tc
	}
	return tr, nil
}

// breakerConfig maps an upstream's breaker section onto the breaker
// package: a time window of the configured length, the configured trip
// conditions (a zero share or count turns one off), and the open wait.
func breakerConfig(name string, b config.Breaker, clk clock.Clock) breaker.Config {
	bc := breaker.Config{
		Name:                name,
		Clock:               clk,
		WindowDuration:      b.Window,
		MinCalls:            b.MinCalls,
		FailureRate:         float64(b.FailureRate),
		ConsecutiveFailures: b.ConsecutiveFailures,
		OpenWait:            b.OpenDuration,
		HalfOpenProbes:      b.HalfOpenProbes,
	}
	if b.FailureRate == 0 {
		bc.FailureRate = -1 // 0% turns the condition off; the breaker's zero means 50%
	}
	if s := b.SlowCall; s != nil {
		bc.SlowCallDuration = s.Duration
		bc.SlowCallRate = float64(s.Rate)
		if s.Rate == 0 {
			bc.SlowCallRate = -1
		}
	}
	return bc
}
