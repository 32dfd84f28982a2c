package config

import (
	"fmt"
	"maps"
	"net"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/levee-go/levee"
)

// checker checks a decoded configuration as a whole: values out of range,
// references between sections, duplicate names and combinations that
// cannot work. It fills in the defaults that depend on other fields.
type checker struct {
	*decoder
	cfg *Config
	dir string
	bad []string // paths the decoder already reported
}

// involvesBad reports whether a check at path involves a value the decoder
// already reported: the value itself, one inside it, or one around it.
func (c *checker) involvesBad(path string) bool {
	for _, b := range c.bad {
		if related(path, b) || related(b, path) {
			return true
		}
	}
	return false
}

// related reports whether path is outer or lies inside it.
func related(outer, path string) bool {
	if outer == "" || path == outer {
		return true
	}
	return strings.HasPrefix(path, outer) && (path[len(outer)] == '.' || path[len(outer)] == '[')
}

// fail records a problem at the position of path, or of the closest
// enclosing value written in the file when path itself took its default.
func (c *checker) fail(path, format string, args ...any) {
	if c.involvesBad(path) {
		return
	}
	p := path
	for {
		if pos, ok := c.pos[p]; ok {
			c.problemAt(path, pos.line, pos.col, fmt.Sprintf(format, args...))
			return
		}
		if p == "" {
			c.problemAt(path, 1, 1, fmt.Sprintf(format, args...))
			return
		}
		p = parent(p)
	}
}

// parent strips the last key or index from a YAML path.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// set reports whether path was written in the file (rather than defaulted).
func (c *checker) set(path string) bool {
	_, ok := c.pos[path]
	return ok
}

func (c *checker) atLeast(path string, v, least int) {
	if v < least {
		c.fail(path, "must be ≥ %d", least)
	}
}

func (c *checker) positive(path string, d time.Duration) {
	if d <= 0 {
		c.fail(path, "must be longer than 0s")
	}
}

// name checks a name used in metrics labels and references, and that it is
// unique among names (which maps a name to the path that first used it).
func (c *checker) name(path, name string, names map[string]string) {
	if name == "" {
		c.fail(path, "must not be empty")
		return
	}
	if !nameRE.MatchString(name) {
		c.fail(path, "%q must hold only letters, digits, '.', '_' and '-'", name)
		return
	}
	if first, dup := names[name]; dup {
		c.fail(path, "duplicate name %q (first at %s)", name, first)
		return
	}
	names[name] = parent(path)
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

// isToken reports whether s is an HTTP token, as header names and methods
// are.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(b)) {
			return false
		}
	}
	return true
}

func (c *checker) headerName(path, name string) {
	if !isToken(name) {
		c.fail(path, "%q is not a valid header field name", name)
	}
}

// hostPort checks a host:port address; an empty host is allowed when
// emptyHost is true (":8080", every interface).
func (c *checker) hostPort(path, addr string, emptyHost bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		c.fail(path, "%q is not a host:port address", addr)
		return
	}
	if host == "" && !emptyHost {
		c.fail(path, "%q has no host", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || (n == 0 && !emptyHost) {
		c.fail(path, "%q does not have a valid port", addr)
	}
}

// file checks that a file named in the configuration can be read.
func (c *checker) file(path, name string) {
	if name == "" {
		c.fail(path, "must not be empty")
		return
	}
	if !filepath.IsAbs(name) && c.dir != "" {
		name = filepath.Join(c.dir, name)
	}
	f, err := os.Open(name)
	if err != nil {
		c.fail(path, "cannot be read: %v", err)
		return
	}
	f.Close()
}

// regex checks a regular expression.
func (c *checker) regex(path, expr string) {
	if _, err := regexp.Compile(expr); err != nil {
		c.fail(path, "is not a valid regular expression: %v", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
}

func (c *checker) check() {
	c.listeners()
	c.upstreams()
	c.routes()
	c.redis()
	c.admin()
	c.reload()
	if a := c.cfg.AccessLog; a != nil && a.Path == "" {
		c.fail("access_log.path", "must not be empty")
	}
	if t := c.cfg.Tracing; t != nil {
		c.hostPort("tracing.endpoint", t.Endpoint, false)
		if t.ServiceName == "" {
			c.fail("tracing.service_name", "must not be empty")
		}
	}
}

func (c *checker) listeners() {
	if len(c.cfg.Listeners) == 0 && c.set("listeners") {
		c.fail("listeners", "must list at least one listener")
	}
	names := map[string]string{}
	for i, l := range c.cfg.Listeners {
		p := fmt.Sprintf("listeners[%d]", i)
		c.name(p+".name", l.Name, names)
		c.hostPort(p+".address", l.Address, true)
		for j := range i {
			if other := c.cfg.Listeners[j].Address; overlap(l.Address, other) {
				c.fail(p+".address", "%q overlaps listeners[%d].address %q", l.Address, j, other)
				break
			}
		}
		if l.TLS != nil {
			c.file(p+".tls.cert_file", l.TLS.CertFile)
			c.file(p+".tls.key_file", l.TLS.KeyFile)
			if l.H2C {
				c.fail(p+".h2c", "is for cleartext listeners; with tls, HTTP/2 is negotiated on its own")
			}
		}
		for j, tp := range l.TrustedProxies {
			if _, err := ParseTrustedProxy(tp); err != nil {
				c.fail(fmt.Sprintf("%s.trusted_proxies[%d]", p, j), "%q is not an IP address or CIDR prefix (such as 10.0.0.0/8)", tp)
			}
		}
		if l.MaxHeaderBytes < 1024 {
			c.fail(p+".max_header_bytes", "must be ≥ 1KiB")
		}
		if w := l.Timeouts.Write; w > 0 {
			for j, r := range c.cfg.Routes {
				if r.Timeout >= w {
					c.fail(p+".timeouts.write", "must be longer than every route's timeout (routes[%d].timeout is %v)", j, r.Timeout)
					break
				}
			}
		}
	}
}

func (c *checker) upstreams() {
	names := map[string]string{}
	for i := range c.cfg.Upstreams {
		u := &c.cfg.Upstreams[i]
		p := fmt.Sprintf("upstreams[%d]", i)
		c.name(p+".name", u.Name, names)
		if len(u.Targets) == 0 {
			c.fail(p+".targets", "must list at least one target")
		}
		seen := map[string]string{}
		for j, t := range u.Targets {
			tp := fmt.Sprintf("%s.targets[%d]", p, j)
			c.target(tp+".url", t.URL)
			if first, dup := seen[t.URL]; dup {
				c.fail(tp+".url", "%q is already %s", t.URL, first)
			}
			seen[t.URL] = tp
			if t.Weight < 1 || t.Weight > 1000 {
				c.fail(tp+".weight", "must be from 1 to 1000")
			}
		}
		c.balancing(p+".balancing", u.Balancing)
		if h := u.HealthCheck; h != nil {
			c.healthCheck(p+".health_check", h)
		}
		if o := u.OutlierDetection; o != nil {
			c.outliers(p+".outlier_detection", o)
		}
		if b := u.Breaker; b != nil {
			c.breaker(p+".breaker", b)
		}
		c.atLeast(p+".transport.max_idle_conns_per_host", u.Transport.MaxIdleConnsPerHost, 0)
		if u.Transport.CAFile != "" {
			c.file(p+".transport.ca_file", u.Transport.CAFile)
		}
	}
}

// target checks a target's URL: http or https, a host and port, no path.
func (c *checker) target(path, raw string) {
	s := raw
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		c.fail(path, "%q is not a URL or host:port", raw)
		return
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		c.fail(path, "%q: the scheme must be http or https", raw)
	case u.User != nil:
		c.fail(path, "%q must not carry credentials; set the header on the route instead", raw)
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		c.fail(path, "%q must not have a path or query; use the route's strip_prefix or rewrite", raw)
	case u.Port() != "":
		if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
			c.fail(path, "%q does not have a valid port", raw)
		}
	}
}

func (c *checker) balancing(p string, b Balancing) {
	switch {
	case b.Policy == ConsistentHash && b.Hash == nil:
		c.fail(p+".hash", "is required with consistent_hash")
	case b.Policy != ConsistentHash && b.Hash != nil:
		c.fail(p+".hash", "applies only with policy consistent_hash, not %s", b.Policy)
	case b.Hash != nil && (b.Hash.Header == "") == (b.Hash.Cookie == ""):
		c.fail(p+".hash", "must set exactly one of header and cookie")
	case b.Hash != nil && b.Hash.Header != "":
		c.headerName(p+".hash.header", b.Hash.Header)
	case b.Hash != nil && !isToken(b.Hash.Cookie):
		c.fail(p+".hash.cookie", "%q is not a valid cookie name", b.Hash.Cookie)
	}
}

func (c *checker) healthCheck(p string, h *HealthCheck) {
	if !strings.HasPrefix(h.Path, "/") {
		c.fail(p+".path", "must start with /")
	}
	c.positive(p+".interval", h.Interval)
	c.positive(p+".timeout", h.Timeout)
	if h.Timeout >= h.Interval && h.Interval > 0 {
		c.fail(p+".timeout", "must be shorter than interval (%v)", h.Interval)
	}
	c.atLeast(p+".healthy_threshold", h.HealthyThreshold, 1)
	c.atLeast(p+".unhealthy_threshold", h.UnhealthyThreshold, 1)
	if len(h.ExpectStatus) == 0 {
		c.fail(p+".expect_status", "must list at least one status")
	}
	for i, s := range h.ExpectStatus {
		if _, _, ok := parseStatusRange(s); !ok {
			c.fail(fmt.Sprintf("%s.expect_status[%d]", p, i), `%q must be a status code from 100 to 599 or a range such as "200-399"`, s)
		}
	}
}

// parseStatusRange parses "200" or "200-399".
func parseStatusRange(s string) (lo, hi int, ok bool) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err := strconv.Atoi(strings.TrimSpace(a))
	if err != nil {
		return 0, 0, false
	}
	hi = lo
	if isRange {
		if hi, err = strconv.Atoi(strings.TrimSpace(b)); err != nil {
			return 0, 0, false
		}
	}
	return lo, hi, lo >= 100 && hi <= 599 && lo <= hi
}

func (c *checker) outliers(p string, o *OutlierDetection) {
	c.positive(p+".interval", o.Interval)
	c.positive(p+".base_ejection_time", o.BaseEjectionTime)
	if o.MaxEjectionTime < o.BaseEjectionTime {
		c.fail(p+".max_ejection_time", "must be at least base_ejection_time (%v)", o.BaseEjectionTime)
	}
	c.atLeast(p+".consecutive_5xx", o.Consecutive5xx, 0)
	c.atLeast(p+".consecutive_gateway_failure", o.ConsecutiveGatewayFailure, 0)
	if s := o.SuccessRate; s != nil {
		c.atLeast(p+".success_rate.minimum_hosts", s.MinimumHosts, 1)
		c.atLeast(p+".success_rate.request_volume", s.RequestVolume, 1)
		if s.StdevFactor <= 0 {
			c.fail(p+".success_rate.stdev_factor", "must be greater than 0")
		}
	}
	if f := o.FailurePercentage; f != nil {
		c.atLeast(p+".failure_percentage.minimum_hosts", f.MinimumHosts, 1)
		c.atLeast(p+".failure_percentage.request_volume", f.RequestVolume, 1)
	}
	if o.Consecutive5xx == 0 && o.ConsecutiveGatewayFailure == 0 && o.SuccessRate == nil && o.FailurePercentage == nil {
		c.fail(p, "turns on no check: set consecutive_5xx, consecutive_gateway_failure, success_rate or failure_percentage")
	}
}

func (c *checker) breaker(p string, b *Breaker) {
	c.atLeast(p+".consecutive_failures", b.ConsecutiveFailures, 0)
	if b.FailureRate == 0 && b.ConsecutiveFailures == 0 && b.SlowCall == nil {
		c.fail(p, "can never trip: set failure_rate, consecutive_failures or slow_call")
	}
	c.positive(p+".window", b.Window)
	c.atLeast(p+".min_calls", b.MinCalls, 1)
	c.positive(p+".open_duration", b.OpenDuration)
	c.atLeast(p+".half_open_probes", b.HalfOpenProbes, 1)
	if s := b.SlowCall; s != nil {
		c.positive(p+".slow_call.duration", s.Duration)
		if s.Rate == 0 {
			c.fail(p+".slow_call.rate", "must be greater than 0%%")
		}
	}
}

func (c *checker) routes() {
	names := map[string]string{}
	upstreams := map[string]bool{}
	for _, u := range c.cfg.Upstreams {
		upstreams[u.Name] = true
	}
	for i := range c.cfg.Routes {
		r := &c.cfg.Routes[i]
		p := fmt.Sprintf("routes[%d]", i)
		c.name(p+".name", r.Name, names)
		if r.Upstream != "" && !upstreams[r.Upstream] {
			c.fail(p+".upstream", "no upstream is named %q", r.Upstream)
		}
		c.match(p+".match", &r.Match)
		c.rewrite(p, r)
		c.headerEdits(p+".request_headers", r.RequestHeaders)
		c.headerEdits(p+".response_headers", r.ResponseHeaders)
		c.positive(p+".timeout", r.Timeout)
		c.policies(p+".policies", r, upstreams)
		for j := range i {
			if o := &c.cfg.Routes[j]; o.Priority == r.Priority && reflect.DeepEqual(o.Match, r.Match) {
				c.fail(p+".match", "can never match: routes[%d] (%s) matches the same requests first", j, o.Name)
				break
			}
		}
	}
}

func (c *checker) match(p string, m *Match) {
	paths := 0
	for _, s := range []string{m.PathExact, m.PathPrefix, m.PathRegex} {
		if s != "" {
			paths++
		}
	}
	if paths > 1 {
		c.fail(p, "must set at most one of path_exact, path_prefix and path_regex")
	}
	if m.PathExact != "" && !strings.HasPrefix(m.PathExact, "/") {
		c.fail(p+".path_exact", "must start with /")
	}
	if m.PathPrefix != "" && !strings.HasPrefix(m.PathPrefix, "/") {
		c.fail(p+".path_prefix", "must start with /")
	}
	if m.PathRegex != "" {
		c.regex(p+".path_regex", m.PathRegex)
	}
	if h := m.Host; h != "" {
		name := strings.TrimPrefix(h, "*.")
		if strings.Contains(h, ":") {
			c.fail(p+".host", "%q must not have a port", h)
		} else if strings.Contains(name, "*") || !hostRE.MatchString(name) {
			c.fail(p+".host", `%q must be a host name, or "*." and a host name`, h)
		}
	}
	methods := map[string]bool{}
	for i, meth := range m.Methods {
		mp := fmt.Sprintf("%s.methods[%d]", p, i)
		switch {
		case !isToken(meth) || strings.ToUpper(meth) != meth:
			c.fail(mp, "%q is not a method name (methods are upper case, such as GET)", meth)
		case methods[meth]:
			c.fail(mp, "%s is listed twice", meth)
		}
		methods[meth] = true
	}
	for i, h := range m.Headers {
		hp := fmt.Sprintf("%s.headers[%d]", p, i)
		c.headerName(hp+".name", h.Name)
		if h.Value != "" && h.Regex != "" {
			c.fail(hp, "must set at most one of value and regex")
		}
		if h.Regex != "" {
			c.regex(hp+".regex", h.Regex)
		}
	}
}

var hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$`)

func (c *checker) rewrite(p string, r *Route) {
	if s := r.StripPrefix; s != "" {
		switch {
		case !strings.HasPrefix(s, "/"):
			c.fail(p+".strip_prefix", "must start with /")
		case r.Rewrite.Prefix != "":
			c.fail(p+".strip_prefix", "must not be set with rewrite.prefix, which replaces the prefix already")
		case r.Match.PathPrefix != "" && !strings.HasPrefix(r.Match.PathPrefix, s):
			c.fail(p+".strip_prefix", "%q is not a prefix of match.path_prefix %q, so it would never be stripped", s, r.Match.PathPrefix)
		case r.Match.PathExact != "" && !strings.HasPrefix(r.Match.PathExact, s):
			c.fail(p+".strip_prefix", "%q is not a prefix of match.path_exact %q, so it would never be stripped", s, r.Match.PathExact)
		}
	}
	if s := r.Rewrite.Prefix; s != "" {
		if r.Match.PathPrefix == "" {
			c.fail(p+".rewrite.prefix", "needs match.path_prefix, the prefix it replaces")
		} else if !strings.HasPrefix(s, "/") {
			c.fail(p+".rewrite.prefix", "must start with /")
		}
	}
	if h := r.Rewrite.Host; h != "" && !hostRE.MatchString(strings.Split(h, ":")[0]) {
		c.fail(p+".rewrite.host", "%q is not a host name", h)
	}
}

func (c *checker) headerEdits(p string, e HeaderEdits) {
	for _, kind := range []struct {
		name string
		m    map[string]string
	}{{"set", e.Set}, {"add", e.Add}} {
		// Header names are case-insensitive: "x-id" and "X-Id" are one field.
		keys := slices.Sorted(maps.Keys(kind.m))
		seen := map[string]string{}
		for _, k := range keys {
			canon := textproto.CanonicalMIMEHeaderKey(k)
			if first, dup := seen[canon]; dup {
				c.fail(p+"."+kind.name+"."+k, "names the same header field as %q", first)
			}
			seen[canon] = k
		}
	}
	for _, kind := range []struct {
		name string
		m    map[string]string
	}{{"set", e.Set}, {"add", e.Add}} {
		for k, v := range kind.m {
			kp := p + "." + kind.name + "." + k
			c.headerName(kp, k)
			if strings.ContainsAny(v, "\r\n\x00") {
				c.fail(kp, "must not contain line breaks or NUL")
			}
		}
	}
	for i, k := range e.Remove {
		c.headerName(fmt.Sprintf("%s.remove[%d]", p, i), k)
	}
}

func (c *checker) policies(p string, r *Route, upstreams map[string]bool) {
	pol := &r.Policies
	if rl := pol.RateLimit; rl != nil {
		c.rateLimit(p+".rate_limit", rl)
	}
	if cc := pol.Concurrency; cc != nil {
		c.concurrency(p+".concurrency", cc)
	}
	if s := pol.Shed; s != nil {
		c.headerName(p+".shed.criticality_header", s.CriticalityHeader)
		if _, ok := levee.ParseCriticality(s.Default); !ok {
			c.fail(p+".shed.default", "%q must be CRITICAL_PLUS, CRITICAL, SHEDDABLE_PLUS or SHEDDABLE", s.Default)
		}
		c.atLeast(p+".shed.max_in_flight", s.MaxInFlight, 0)
	}
	if rt := pol.Retry; rt != nil {
		c.retry(p+".retry", rt, r.Timeout)
		if rt.Attempts > 1 && rt.IdempotencyKeyHeader == "" && onlyUnsafe(r.Match.Methods) {
			c.fail(p+".retry", "retries nothing: the route matches only non-idempotent methods and idempotency_key_header is empty")
		}
	}
	if id := pol.Idempotency; id != nil {
		c.positive(p+".idempotency.ttl", id.TTL)
		c.positive(p+".idempotency.lease", id.Lease)
		if id.MaxBody <= 0 {
			c.fail(p+".idempotency.max_body", "must be positive")
		}
		if id.Store == RedisStore && c.cfg.Redis == nil {
			c.fail(p+".idempotency.store", "redis needs the top-level redis section")
		}
		if r.Timeout > 0 && id.Lease > 0 && id.Lease <= r.Timeout {
			c.fail(p+".idempotency.lease", "%v must be longer than the route's timeout %v, or a running request's key frees itself while it runs", id.Lease, r.Timeout)
		}
	}
	if h := pol.Hedge; h != nil && onlyUnsafe(r.Match.Methods) {
		c.fail(p+".hedge", "hedges nothing: the route matches only non-idempotent methods")
	}
	if h := pol.Hedge; h != nil {
		c.positive(p+".hedge.delay", h.Delay)
		if h.Delay >= r.Timeout && r.Timeout > 0 {
			c.fail(p+".hedge.delay", "must be shorter than the route timeout (%v), or no copy is ever sent", r.Timeout)
		}
		c.atLeast(p+".hedge.max", h.Max, 1)
	}
	if f := pol.Fallback; f != nil {
		c.fallback(p+".fallback", f, r.Upstream, upstreams)
	}
	if f := pol.Fault; f != nil {
		c.fault(p+".fault", f, r.Timeout)
	}
	if s := pol.SLO; s != nil {
		if s.Objective <= 0 || s.Objective >= 100 {
			c.fail(p+".slo.objective", "must be above 0%% and below 100%%")
		}
		if s.Window < time.Minute {
			c.fail(p+".slo.window", "must be at least 1m")
		}
	}
}

// onlyUnsafe reports whether methods is a non-empty list of methods none of
// which is idempotent, so that nothing the route takes may be sent twice.
func onlyUnsafe(methods []string) bool {
	for _, m := range methods {
		switch m {
		case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
			return false
		}
	}
	return len(methods) > 0
}

func (c *checker) keyParts(p string, parts []KeyPart, empty string) {
	if len(parts) == 0 && c.set(p) && empty != "" {
		c.fail(p, "%s", empty)
	}
	seen := map[KeyPart]bool{}
	for i, k := range parts {
		if seen[k] {
			c.fail(fmt.Sprintf("%s[%d]", p, i), "%s is listed twice", k)
		}
		seen[k] = true
	}
}

func (c *checker) rateLimit(p string, rl *RateLimit) {
	c.keyParts(p+".key", rl.Key, "must list at least one part (route for one limit per route)")
	c.atLeast(p+".burst", rl.Burst, 0)
	if rl.Burst == 0 {
		rl.Burst = int(min(rl.Rate.Count, 1<<31-1))
	}
	c.atLeast(p+".instances", rl.Instances, 1)
	switch {
	case rl.Redis && c.cfg.Redis == nil:
		c.fail(p+".redis", "needs the top-level redis section")
	case !rl.Redis && c.set(p+".on_redis_failure"):
		c.fail(p+".on_redis_failure", "applies only with redis: true")
	case !rl.Redis && c.set(p+".instances"):
		c.fail(p+".instances", "applies only with redis: true")
	}
}

func (c *checker) concurrency(p string, cc *Concurrency) {
	switch {
	case cc.Max != 0 && cc.Adaptive != nil:
		c.fail(p, "must set either max (a fixed bulkhead) or adaptive, not both")
	case cc.Max == 0 && cc.Adaptive == nil:
		c.fail(p, "must set max (a fixed bulkhead) or adaptive")
	case cc.Adaptive == nil:
		c.atLeast(p+".max", cc.Max, 1)
	case c.set(p + ".queue_timeout"):
		c.fail(p+".queue_timeout", "applies only to a fixed bulkhead (max)")
	}
	if a := cc.Adaptive; a != nil {
		ap := p + ".adaptive"
		c.atLeast(ap+".min", a.Min, 1)
		if a.Max < a.Min {
			c.fail(ap+".max", "must be ≥ min (%d)", a.Min)
		}
		if a.Initial != 0 && (a.Initial < a.Min || a.Initial > a.Max) {
			c.fail(ap+".initial", "must lie between min (%d) and max (%d)", a.Min, a.Max)
		}
	}
	c.keyParts(p+".per_key", cc.PerKey, "")
}

func (c *checker) retry(p string, rt *Retry, timeout time.Duration) {
	c.atLeast(p+".attempts", rt.Attempts, 1)
	if rt.Budget != nil && rt.Attempts == 1 {
		c.fail(p+".budget", "has nothing to limit: attempts is 1, so nothing is retried")
	}
	if rt.PerTryTimeout >= timeout && rt.PerTryTimeout > 0 && timeout > 0 {
		c.fail(p+".per_try_timeout", "must be shorter than the route timeout (%v)", timeout)
	}
	b := rt.Backoff
	if b.Max < b.Initial {
		c.fail(p+".backoff.max", "must be at least initial (%v)", b.Initial)
	}
	if b.Multiplier < 1 {
		c.fail(p+".backoff.multiplier", "must be ≥ 1")
	}
	if bu := rt.Budget; bu != nil && bu.MinPerSecond < 0 {
		c.fail(p+".budget.min_per_second", "must not be negative")
	}
	if len(rt.RetryOn) == 0 && rt.Attempts > 1 {
		c.fail(p+".retry_on", "must list at least one condition")
	}
	for i, s := range rt.RetryOn {
		switch s {
		case "5xx", "gateway_error", "connect_failure", "reset":
			continue
		}
		if n, err := strconv.Atoi(s); err == nil && n >= 100 && n <= 599 {
			continue
		}
		c.fail(fmt.Sprintf("%s.retry_on[%d]", p, i), "%q must be a status code, 5xx, gateway_error, connect_failure or reset", s)
	}
	if h := rt.IdempotencyKeyHeader; h != "" {
		c.headerName(p+".idempotency_key_header", h)
	}
}

func (c *checker) fallback(p string, f *Fallback, own string, upstreams map[string]bool) {
	if f.Status < 100 || f.Status > 599 {
		c.fail(p+".status", "must be a status code from 100 to 599")
	}
	if f.Body != "" && f.File != "" {
		c.fail(p+".file", "must not be set with body")
	} else if f.File != "" {
		c.file(p+".file", f.File)
	}
	switch {
	case f.Upstream == "":
	case !upstreams[f.Upstream]:
		c.fail(p+".upstream", "no upstream is named %q", f.Upstream)
	case f.Upstream == own:
		c.fail(p+".upstream", "is the route's own upstream; name another")
	}
}

func (c *checker) fault(p string, f *Fault, timeout time.Duration) {
	if f.Delay == nil && f.Abort == nil {
		c.fail(p, "must set delay, abort or both")
	}
	if d := f.Delay; d != nil {
		c.positive(p+".delay.duration", d.Duration)
		if d.Duration >= timeout && timeout > 0 {
			c.fail(p+".delay.duration", "must be shorter than the route timeout (%v), or every delayed request times out", timeout)
		}
	}
	if a := f.Abort; a != nil && (a.Status < 400 || a.Status > 599) {
		c.fail(p+".abort.status", "must be a status code from 400 to 599")
	}
	if f.Header != "" {
		c.headerName(p+".header", f.Header)
	}
}

func (c *checker) redis() {
	r := c.cfg.Redis
	if r == nil {
		return
	}
	if len(r.Addrs) == 0 {
		c.fail("redis.addrs", "must list at least one address")
	}
	seen := map[string]bool{}
	for i, a := range r.Addrs {
		ap := fmt.Sprintf("redis.addrs[%d]", i)
		c.hostPort(ap, a, false)
		if seen[a] {
			c.fail(ap, "%q is listed twice", a)
		}
		seen[a] = true
	}
	switch {
	case r.DB < 0 || r.DB > 15:
		c.fail("redis.db", "must be from 0 to 15")
	case r.DB != 0 && len(r.Addrs) > 1:
		c.fail("redis.db", "must be 0 with a cluster (more than one address)")
	}
	c.positive("redis.timeout", r.Timeout)
}

func (c *checker) admin() {
	a := c.cfg.Admin
	c.hostPort("admin.address", a.Address, true)
	for i, l := range c.cfg.Listeners {
		if overlap(l.Address, a.Address) {
			c.fail("admin.address", "%q overlaps listeners[%d].address %q", a.Address, i, l.Address)
			break
		}
	}
	switch {
	case a.TokenFile != "" && a.TokenEnv != "":
		c.fail("admin.token_env", "must not be set with token_file")
	case a.TokenFile != "":
		c.file("admin.token_file", a.TokenFile)
	case a.TokenEnv != "":
		if !envName.MatchString(a.TokenEnv) {
			c.fail("admin.token_env", "%q is not a valid environment variable name", a.TokenEnv)
		} else if v, ok := c.env(a.TokenEnv); !ok || v == "" {
			c.fail("admin.token_env", "environment variable %s is not set", a.TokenEnv)
		}
	default:
		if host, _, err := net.SplitHostPort(a.Address); err == nil && !isLoopback(host) && (a.TLS == nil || a.TLS.ClientCAFile == "") {
			c.fail("admin.address", "%q is reachable from other hosts; set token_file, token_env or tls.client_ca_file, or listen on 127.0.0.1", a.Address)
		}
	}
	if t := a.TLS; t != nil {
		c.file("admin.tls.cert_file", t.CertFile)
		c.file("admin.tls.key_file", t.KeyFile)
		if t.ClientCAFile != "" {
			c.file("admin.tls.client_ca_file", t.ClientCAFile)
		}
	}
}

// overlap reports whether two listen addresses would take the same port:
// the same port on the same host, or on any host when either listens on
// every interface.
func overlap(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil {
		return a == b
	}
	if pa != pb || pa == "0" {
		return false
	}
	return ha == hb || isWildcard(ha) || isWildcard(hb)
}

// isWildcard reports whether host means every interface.
func isWildcard(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// isLoopback reports whether host names only the loopback interface.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *checker) reload() {
	r := c.cfg.Reload
	c.positive("reload.debounce", r.Debounce)
	c.positive("reload.warm_timeout", r.WarmTimeout)
	c.positive("reload.drain_timeout", r.DrainTimeout)
	c.atLeast("reload.history", r.History, 2)
	s := r.SelfCheck
	if s.Period < 0 {
		c.fail("reload.self_check.period", "must not be negative")
	}
	if !(s.MaxBurnRate > 0) {
		c.fail("reload.self_check.max_burn_rate", "must be greater than 0")
	}
	c.atLeast("reload.self_check.min_events", s.MinEvents, 1)
	if !(s.MaxRegression == 0 || s.MaxRegression >= 1) {
		c.fail("reload.self_check.max_regression", "must be 0 (off) or at least 1")
	}
	if s.Objective <= 0 || s.Objective >= 100 {
		c.fail("reload.self_check.objective", "must be between 0%% and 100%%, both excluded")
	}
	if s.Latency < 0 {
		c.fail("reload.self_check.latency", "must not be negative")
	}
}
