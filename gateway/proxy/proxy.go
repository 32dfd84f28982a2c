package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"sync"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/observe"
)

// Options tune [New]. The zero value works.
type Options struct {
	// Clock is the clock of breakers, outlier detection, retry backoff and
	// per-try timeouts, fault delays and the age of stale answers. Nil
	// means [clock.Real]; tests pass a fake to step through them.
	Clock clock.Clock
	// Dir is the directory relative file names in the configuration
	// (transport.ca_file) are read from. Empty means the current
	// directory.
	Dir string
	// Logger receives one warning per request the gateway could not
	// forward, with the route, upstream, target and error. Nil means
	// [slog.Default].
	Logger *slog.Logger
	// AccessLog, when set, receives one record per request: listener,
	// route, upstream, target, method, host, path, status, the reason when
	// the gateway answered itself, duration, client IP and request id. Nil
	// means no access log.
	AccessLog *slog.Logger
	// Seed makes the random choices of fault injection repeat from run to
	// run, for tests. Zero means unseeded.
	Seed uint64
	// Metrics, when set, receives every request (by route, status class
	// and reason, its duration, and by target) and the state of every
	// breaker. Nil means no metrics.
	Metrics *observe.ProxyMetrics
	// Resolver looks up the host names among upstream targets, at start
	// and every resolve_interval. Nil means [net.DefaultResolver].
	Resolver Resolver
	// Tracing, when set, makes one server span per request, continuing
	// the caller's W3C trace context and passing it upstream in
	// traceparent. Nil means no spans: traceparent passes through as the
	// client sent it.
	Tracing *observe.HTTPTracing
	// Previous is the running Proxy this one is built to replace, on a
	// reload: every breaker, rate limit, concurrency limit, shedder,
	// objective and target health whose configuration did not change is
	// taken over with its state rather than built anew ([Proxy.Carried]
	// says which). Retire Previous, not Close it, once this one serves.
	// Nil means none.
	Previous *Proxy
}

// Proxy is the runtime of one configuration: its routes, in the order
// they are tried, and its upstreams, each with its connection pool and
// breaker. It is safe for concurrent use.
//
// Proxy serves requests as if they came from no trusted proxy; serve each
// listener through [Proxy.Handler] to honour its trusted_proxies.
type Proxy struct {
	routes    []*route
	upstreams []*upstream
	trust     map[string]trust
	log       *slog.Logger
	access    *slog.Logger
	clk       clock.Clock
	buffers   bufferPool
	seed      uint64   // fault injection's random source; 0 means unseeded
	dir       string   // Options.Dir
	metrics   *metrics // nil without Options.Metrics
	tracing   *observe.HTTPTracing
	adm       admitState // admission policies' shared parts (admit.go)
	slos      sloState   // the routes' and the gateway's objectives (slo.go)
	carry     carryState // what a reload carried over (carry.go)
}

// New compiles cfg, which must come from [config.Load] or [config.Parse]
// (and so be valid), into a Proxy. It returns an error for what only
// building can find, such as an unreadable CA file.
func New(cfg *config.Config, opts Options) (*Proxy, error) {
	if cfg == nil {
		return nil, errors.New("proxy: nil config")
	}
	p := &Proxy{trust: map[string]trust{}, log: opts.Logger, access: opts.AccessLog, clk: clock.Or(opts.Clock), seed: opts.Seed, dir: opts.Dir,
		tracing: opts.Tracing}
	if p.log == nil {
		p.log = slog.Default()
	}
	for _, l := range cfg.Listeners {
		var t trust
		for _, s := range l.TrustedProxies {
			pfx, err := config.ParseTrustedProxy(s)
			if err != nil {
				return nil, fmt.Errorf("proxy: listener %s: trusted_proxies: %w", l.Name, err)
			}
			t = append(t, pfx)
		}
		p.trust[l.Name] = t
	}
	p.adm.redisCfg = cfg.Redis
	byName := map[string]*upstream{}
	for _, uc := range cfg.Upstreams {
		u, err := newUpstream(uc, opts.Dir, opts.Clock)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("proxy: %w", err)
		}
		u.resolve = newResolution(u, uc, opts.Resolver, opts.Clock, p.log) // resolve.go
		if uc.HealthCheck != nil {
			u.checks = startChecks(u, *uc.HealthCheck, opts.Clock, p.log)
		}
		if uc.OutlierDetection != nil {
			u.outliers = newOutliers(u, *uc.OutlierDetection, opts.Clock, p.log)
		}
		p.upstreams = append(p.upstreams, u)
		byName[u.name] = u
	}
	for i, rc := range cfg.Routes {
		rt, err := p.newRoute(i, rc, byName)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("proxy: route %s: %w", rc.Name, err)
		}
		p.routes = append(p.routes, rt)
	}
	sortRoutes(p.routes)
	if err := p.newSLOs(cfg); err != nil {
		p.Close()
		return nil, fmt.Errorf("proxy: %w", err)
	}
	p.adopt(cfg, opts.Previous) // carry.go
	p.instrument(opts.Metrics)
	for _, u := range p.upstreams {
		if u.resolve != nil {
			u.resolve.start()
		}
	}
	return p, nil
}

func (p *Proxy) newRoute(i int, rc config.Route, upstreams map[string]*upstream) (*route, error) {
	u := upstreams[rc.Upstream]
	if u == nil {
		return nil, fmt.Errorf("no upstream is named %q", rc.Upstream)
	}
	if rc.Timeout <= 0 {
		return nil, fmt.Errorf("timeout %v is not positive", rc.Timeout)
	}
	m, err := compileMatch(rc.Match)
	if err != nil {
		return nil, err
	}
	rt := &route{
		name: rc.Name, priority: rc.Priority, index: i,
		match: m, rewrite: compileRewrite(rc), host: rc.Rewrite.Host,
		reqEdits: compileEdits(rc.RequestHeaders), respEdits: compileEdits(rc.ResponseHeaders),
		maxBody: int64(rc.MaxRequestBody), maxHead: int64(rc.MaxRequestHeaders), timeout: rc.Timeout, upstream: u,
	}
	if rt.admission, err = p.newAdmission(rc); err != nil {
		return nil, err
	}
	rt.proxy = &httputil.ReverseProxy{
		Rewrite:        rt.rewriteRequest,
		Transport:      u.transport,
		BufferPool:     &p.buffers,
		ModifyResponse: rt.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
	if err := p.wireCall(rt, rc, upstreams); err != nil {
		return nil, err
	}
	if err := p.wireIdempotency(rt, rc); err != nil {
		return nil, err
	}
	return rt, nil
}

// Handler returns the handler for the listener named name: the Proxy,
// believing forwarding fields only from that listener's trusted_proxies.
func (p *Proxy) Handler(name string) (http.Handler, error) {
	t, ok := p.trust[name]
	if !ok {
		return nil, fmt.Errorf("proxy: no listener is named %q", name)
	}
	return &listenerHandler{p: p, name: name, trust: t}, nil
}

// ServeHTTP forwards r along the route it matches, trusting no proxy.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.serve(w, r, "", nil) }

// Breaker returns the breaker of the upstream named name, or nil when the
// upstream has none, has one per target, or there is no such upstream; the
// admin API and metrics read its state and subscribe to its events.
func (p *Proxy) Breaker(name string) *breaker.Breaker {
	for _, u := range p.upstreams {
		if u.name == name {
			return u.breaker
		}
	}
	return nil
}

// Close stops the health checks and closes the idle connections to every
// upstream. Requests in flight are not affected.
func (p *Proxy) Close() {
	for _, u := range p.upstreams {
		if u.resolve != nil {
			u.resolve.stop() // first: it starts health checks
		}
		if u.checks != nil {
			u.checks.stop()
		}
		if u.outliers != nil {
			u.outliers.stop()
		}
		u.transport.CloseIdleConnections()
	}
	p.adm.close()
	p.unlistenAll()
}

type listenerHandler struct {
	p     *Proxy
	name  string
	trust trust
}

func (h *listenerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.p.serve(w, r, h.name, h.trust)
}

// match returns the first route, in priority order, that takes r.
func (p *Proxy) match(r *http.Request) *route {
	for _, rt := range p.routes {
		if rt.match.matches(r) {
			return rt
		}
	}
	return nil
}

// exchange is what the stages of one forwarded request share: the
// ReverseProxy hooks find it in the request's context.
type exchange struct {
	route   *route
	peer    netip.Addr
	trusted bool
	client  netip.Addr
	target  *target       // the target of the current attempt
	permit  levee.Permit  // its breaker's permit
	id      string        // the request id, sent upstream and answered
	delayed time.Duration // an injected delay, taken from the route's timeout
	span    observe.HTTPSpan

	rejected bool   // the breaker refused: only a fallback may answer
	failed   int    // the upstream's failure when a fallback answered instead
	fallback string // the reason of the fallback that answered
}

type exchangeKey struct{}

func exchangeOf(r *http.Request) *exchange {
	ex, _ := r.Context().Value(exchangeKey{}).(*exchange)
	return ex
}

// serve answers one request: it gives the request an id, forwards it, and
// writes the access log record, even when forwarding aborts.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, listener string, t trust) {
	start := p.clk.Nanotime() // for the objectives, metrics and access log
	peer := peerAddr(r)
	ex := &exchange{peer: peer, trusted: peer.IsValid() && t.contains(peer), id: requestID(r.Header)}
	ex.client = clientIP(r.Header, peer, t)
	w.Header().Set(RequestIDHeader, ex.id)
	sw := statusWriter{ResponseWriter: w}
	if p.access != nil {
		defer p.logAccess(r, &sw, ex, listener, start)
	}
	if p.metrics != nil {
		defer p.record(&sw, ex, start)
	}
	defer p.recordSLO(&sw, r, ex, start)
	if p.tracing != nil {
		r = p.startSpan(r, ex)
		defer p.endSpan(&sw, ex)
	}
	p.forward(&sw, r, ex)
}

// forward is the request path: route, body limit, breaker and target,
// then the forward under the route's timeout, and the breaker and outlier
// detection told how it went.
func (p *Proxy) forward(w *statusWriter, r *http.Request, ex *exchange) {
	rt := p.match(r)
	if rt == nil {
		writeProblem(w, http.StatusNotFound, ReasonNoRoute, "", "no route takes this request")
		return
	}
	ex.route = rt
	if rt.maxHead > 0 && headerBytes(r.Header, rt.maxHead) > rt.maxHead {
		writeProblem(w, http.StatusRequestHeaderFieldsTooLarge, ReasonHeadersTooLarge, rt.name, "the request's header fields are longer than the route allows")
		return
	}
	if rt.maxBody > 0 {
		if r.ContentLength > rt.maxBody {
			writeProblem(w, http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, rt.name, "the request body is longer than the route allows")
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, rt.maxBody)
		}
	}
	if f := rt.call.fault.Load(); f != nil && f.inject(w, r, ex) {
		return
	}
	adm, ok := rt.admission.admit(w, r, ex) // shed, rate limit, concurrency (admit.go)
	if !ok {
		return
	}
	defer adm.settle(r, w, ex)
	tg, permit, err := rt.upstream.admit(r)
	if err != nil {
		if rt.call.fallback != nil {
			p.fallbackRejected(w, r, ex)
			return
		}
		if wait, ok := levee.RetryAfter(err); ok {
			setRetryAfter(w.Header(), wait)
		}
		writeProblem(w, http.StatusServiceUnavailable, ReasonBreakerOpen, rt.name, "the upstream is failing; its circuit breaker is open")
		return
	}
	ex.target, ex.permit = tg, permit
	tg.active.Add(1)

	ctx := context.WithValue(r.Context(), exchangeKey{}, ex)
	if c := rt.upstream.conns; c != nil {
		ctx = c.CountReuse(ctx, rt.upstream.name) // one allocation: a trace shared by the upstream
	}
	ctx, cancel := context.WithTimeout(ctx, rt.budget(r, ex))
	defer cancel()
	defer func() {
		// Retries may have moved the request to another target: the last
		// attempt's is settled here, the others were when they failed.
		tg, status := ex.target, w.status
		tg.active.Add(-1)
		if ex.failed != 0 { // a fallback answered for the upstream
			status = ex.failed
		}
		// A failure after the response header was sent aborts the handler
		// with a panic (http.ErrAbortHandler); it is still a failure.
		if v := recover(); v != nil {
			w.aborted = true
			settle(r, rt.upstream, tg, ex.permit, 0, true)
			panic(v)
		}
		settle(r, rt.upstream, tg, ex.permit, status, false)
	}()
	rt.forward.ServeHTTP(w, r.WithContext(ctx))
}

// headerBytes measures h as it was sent, each field as "Name: value\r\n",
// and stops counting once the total passes limit.
func headerBytes(h http.Header, limit int64) int64 {
	var n int64
	for name, values := range h {
		for _, v := range values {
			n += int64(len(name) + len(v) + 4)
		}
		if n > limit {
			break
		}
	}
	return n
}

// settle tells the breaker and outlier detection how a forwarded request
// ended.
func settle(r *http.Request, u *upstream, t *target, permit levee.Permit, status int, aborted bool) {
	res := outcome(r, status, aborted)
	permit.Record(levee.Outcome{Result: res})
	if u.outliers != nil && res != levee.Ignored {
		u.outliers.record(u, t, status, aborted)
	}
}

// outcome classifies a forwarded request for the breaker and outlier
// detection: a client that went away or sent too much says nothing about
// the upstream; a 5xx answer (the upstream's, or the gateway's 502 and
// 504) or an aborted response is a failure.
func outcome(r *http.Request, status int, aborted bool) levee.Result {
	switch {
	case r.Context().Err() != nil, status == http.StatusRequestEntityTooLarge:
		return levee.Ignored
	case aborted, status >= 500:
		return levee.Failure
	}
	return levee.Success
}

// rewriteRequest builds the request sent upstream: a target, the path
// rewrite, the Host, the forwarding fields and the route's header edits.
// ReverseProxy has already removed hop-by-hop fields and the client's
// forwarding fields from out.
func (rt *route) rewriteRequest(pr *httputil.ProxyRequest) {
	ex := exchangeOf(pr.In)
	var tg *target
	if ex != nil {
		tg = ex.target
	}
	if tg == nil { // not through serve: pick here
		tg = rt.upstream.pool().balancer.pick(pr.In)
	}
	out := pr.Out
	out.URL.Path, out.URL.RawPath = rt.rewrite.apply(pr.In.URL.Path, pr.In.URL.RawPath)
	pr.SetURL(tg.url)
	out.Host = pr.In.Host
	if rt.host != "" {
		out.Host = rt.host
	}
	if ex != nil {
		setForwarded(out.Header, pr.In, ex.peer, ex.trusted)
		out.Header[RequestIDHeader] = []string{ex.id}
		ex.span.Inject(out.Header)
	} else {
		setForwarded(out.Header, pr.In, peerAddr(pr.In), false)
	}
	writeBudget(out)
	rt.reqEdits.apply(out.Header)
}

// modifyResponse applies the route's response header edits.
func (rt *route) modifyResponse(resp *http.Response) error {
	// The gateway's request id is in the answer already; an upstream that
	// echoes it must not make it appear twice. Levee-Reason is the
	// gateway's to send.
	delete(resp.Header, RequestIDHeader)
	delete(resp.Header, ReasonHeader) // it says the gateway answered
	rt.respEdits.apply(resp.Header)
	if ex := exchangeOf(resp.Request); ex != nil && ex.fallback != "" {
		resp.Header.Set(ReasonHeader, ex.fallback)
	}
	return nil
}

// errorHandler answers a request that could not be forwarded: 502, 504 or
// 413 with a problem+json body and the reason in [ReasonHeader].
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	f := classify(err, r.Context().Err())
	ex := exchangeOf(r)
	if ex != nil && f.status != http.StatusRequestEntityTooLarge && !errors.Is(err, context.Canceled) {
		attrs := []any{"route", ex.route.name, "upstream", ex.route.upstream.name, "reason", f.reason, "error", err}
		if ex.target != nil {
			attrs = append(attrs, "target", ex.target.url.Host)
		}
		p.log.Warn("proxy: request not forwarded", attrs...)
	}
	name := ""
	if ex != nil {
		name = ex.route.name
	}
	writeProblem(w, f.status, f.reason, name, f.detail)
}

// statusWriter remembers the status of the response written through it.
// Unwrap lets http.ResponseController reach the connection, so that
// flushing (streaming, Server-Sent Events) and hijacking (Upgrade) work
// through it.
type statusWriter struct {
	http.ResponseWriter
	status  int
	written int64 // body bytes
	aborted bool  // the handler panicked (the answer was cut off)
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.written += int64(n)
	return n, err
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// bufferPool lends ReverseProxy its 32 KiB copy buffers.
type bufferPool struct{ pool sync.Pool }

const bufferSize = 32 << 10

func (b *bufferPool) Get() []byte {
	if v, ok := b.pool.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, bufferSize)
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) == bufferSize {
		buf = buf[:bufferSize]
		b.pool.Put(&buf)
	}
}

var (
	_ http.Handler        = (*Proxy)(nil)
	_ httputil.BufferPool = (*bufferPool)(nil)
	_ http.ResponseWriter = (*statusWriter)(nil)
)
