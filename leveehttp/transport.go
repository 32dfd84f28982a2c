package leveehttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
)

// TransportConfig configures [NewTransport]. The zero value is a transport
// with safe timeouts and no policy.
type TransportConfig struct {
	// Base sends the requests. Nil means [NewHTTPTransport] with its
	// defaults.
	Base http.RoundTripper
	// Pipeline picks the pipeline a request runs through: one per host
	// ([PerHost]), per route, or a single shared one. Nil, or a nil result,
	// sends the request without policies.
	Pipeline func(*http.Request) *levee.Pipeline
	// Classify decides whether a response counts as a failure for the
	// policies (and so may be retried). Nil means [ClassifyResponse]: 5xx
	// and 429 fail, everything else succeeds.
	Classify func(*http.Response) levee.Result
	// RetryNonIdempotent lets retries and hedges repeat requests whose
	// method is not idempotent (POST, PATCH). Without it such a request is
	// sent at most once, unless it carries an Idempotency-Key header.
	RetryNonIdempotent bool
	// MaxBufferedBody is how many bytes of a request body without GetBody
	// may be buffered in memory so it can be replayed. Zero means none: such
	// a request is sent once.
	MaxBufferedBody int64
	// BudgetMargin is subtracted from the context's remaining time when
	// writing the budget headers ([WriteBudget]). Zero means 5ms; negative
	// disables writing budget and criticality headers.
	BudgetMargin time.Duration
	// MaxRetryAfter caps a server's Retry-After. Zero means 1 minute.
	MaxRetryAfter time.Duration
	// OnEvent receives timing events from httptrace for each attempt
	// (Kind EventInfo, Policy "http", Reason "dns", "connect", "tls",
	// "first_byte" with Wait the duration, or "conn" with Value 1 when the
	// connection was reused). Nil means no tracing, at no cost.
	OnEvent levee.Listener
	// Clock is the transport's time: trace timings, the date a Retry-After
	// date is measured from, and the time the budget headers count down
	// from. Nil means the real clock.
	Clock clock.Clock
}

// Transport is an http.RoundTripper that sends each request through a
// pipeline of policies. It honours the RoundTripper contract: a response
// with any status is returned as a response, never as an error (its status
// is classified for the policies only); an error means no response. The
// bodies of responses that are retried are drained and closed.
//
// A pipeline error that carries a status of its own (a [levee.Fault], an
// injected answer of a fault injector) is returned as an error, unchanged,
// like any other refusal: no request was sent, so the Transport makes up no
// response. Callers that want it find the status with [levee.StatusOf]. Injected statuses are meant for the server side ([Gate],
// [Handler]), where they become real responses that clients see. A panic
// injected in the pipeline is the call's panic: it is raised in the
// caller's goroutine, as [levee.Do] does, or returned as a
// [*levee.PanicError] by a pipeline with ReturnPanics.
//
// The zero Transport is NewTransport(TransportConfig{}): safe timeouts, no
// policy.
type Transport struct {
	cfg  TransportConfig
	base http.RoundTripper
}

// zeroTransport is what the zero Transport sends through, built once.
var zeroTransport = sync.OnceValue(func() *Transport { return NewTransport(TransportConfig{}) })

// NewTransport returns a Transport configured by cfg.
func NewTransport(cfg TransportConfig) *Transport {
	base := cfg.Base
	if base == nil {
		base = NewHTTPTransport(HTTPTransportConfig{})
	}
	if cfg.BudgetMargin == 0 {
		cfg.BudgetMargin = 5 * time.Millisecond
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = time.Minute
	}
	return &Transport{cfg: cfg, base: base}
}

// ClassifyResponse is the default response classifier: 5xx and 429 are
// failures (the server is unwell or overloaded), other statuses successes.
func ClassifyResponse(resp *http.Response) levee.Result {
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return levee.Failure
	}
	return levee.Success
}

// ResponseError is what the policies see for a response classified as a
// failure. It carries the server's Retry-After, so retries wait as asked.
// The caller never sees it: RoundTrip returns the response itself.
type ResponseError struct {
	Response   *http.Response
	retryAfter time.Duration
}

func (e *ResponseError) Error() string {
	if e.Response == nil || e.Response.Request == nil || e.Response.Request.URL == nil {
		if e.Response != nil {
			return "leveehttp: response " + e.Response.Status
		}
		return "leveehttp: failed response"
	}
	return "leveehttp: " + e.Response.Request.Method + " " + e.Response.Request.URL.Redacted() + ": " + e.Response.Status
}

// RetryAfter returns the server's Retry-After, capped; zero when the server
// sent none.
func (e *ResponseError) RetryAfter() time.Duration { return e.retryAfter }

// ErrNotReplayable is returned by a second attempt of a request whose body
// cannot be sent again or whose method may not be repeated; it is marked
// with [levee.Ignore] so it counts against no dependency. RoundTrip returns
// the first attempt's result instead.
var ErrNotReplayable = errors.New("leveehttp: request may not be sent again")

// RoundTrip implements http.RoundTripper. Its stages, one method each of a
// per-request roundTrip: make the body replayable (replayable), run the
// pipeline around the attempts (attempt, which prepares each outgoing
// request), then choose the answer and close every response the caller
// will not get (answer).
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.base == nil {
		// The zero Transport: NewTransport's defaults, no policy.
		return zeroTransport().RoundTrip(req)
	}
	var p *levee.Pipeline
	if t.cfg.Pipeline != nil {
		p = t.cfg.Pipeline(req)
	}
	if p == nil && t.cfg.BudgetMargin < 0 && t.cfg.OnEvent == nil {
		return t.base.RoundTrip(req)
	}
	rt := &roundTrip{t: t, req: req, repeatable: t.cfg.RetryNonIdempotent || isIdempotent(req)}
	if err := rt.replayable(); err != nil {
		return nil, err
	}
	resp, err := levee.Do(rt.req.Context(), p, rt.attempt)
	return rt.answer(resp, err)
}

// roundTrip is one request through a [Transport]: the request, how to send
// its body again, and what the attempts got back.
type roundTrip struct {
	t          *Transport
	req        *http.Request
	repeatable bool // the method or an Idempotency-Key allows a repeat
	getBody    func() (io.ReadCloser, error)

	mu       sync.Mutex
	attempts int
	winners  []*http.Response // responses received, to close the losers
	lastErr  error            // the last transport error of a real attempt
}

// replayable sets up getBody so later attempts can send the body again:
// the request's own GetBody, nothing to send for an empty body, or a copy
// of a body small enough to buffer (MaxBufferedBody). A body too large to
// buffer and without GetBody is refused rather than sent truncated.
func (rt *roundTrip) replayable() error {
	req := rt.req
	rt.getBody = req.GetBody
	if req.Body == nil || req.Body == http.NoBody {
		rt.getBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
		return nil
	}
	limit := rt.t.cfg.MaxBufferedBody
	if rt.getBody != nil || !rt.repeatable || limit <= 0 {
		return nil
	}
	buf, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	req.Body.Close()
	if err != nil {
		return err
	}
	if int64(len(buf)) > limit {
		return errors.New("leveehttp: request body exceeds MaxBufferedBody and has no GetBody")
	}
	rt.getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	rt.req = req.Clone(req.Context())
	rt.req.Body, _ = rt.getBody()
	rt.req.GetBody = rt.getBody
	return nil
}

// attempt sends the request once, as the pipeline's call: it prepares the
// outgoing request (prepare), sends it, and classifies the response for the
// policies, carrying the server's Retry-After in a [ResponseError].
func (rt *roundTrip) attempt(ctx context.Context) (*http.Response, error) {
	rt.mu.Lock()
	rt.attempts++
	n := rt.attempts
	rt.mu.Unlock()
	out, err := rt.prepare(ctx, n)
	if err != nil {
		return nil, err
	}
	resp, err := rt.t.base.RoundTrip(out)
	rt.mu.Lock()
	if err != nil {
		rt.lastErr = err
	} else {
		rt.winners = append(rt.winners, resp)
	}
	rt.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if rt.t.classify(resp) == levee.Failure {
		re := &ResponseError{Response: resp}
		if d, ok := RetryAfterHeader(resp.Header, rt.t.clock().Now(), rt.t.cfg.MaxRetryAfter); ok {
			re.retryAfter = d
		}
		return resp, re
	}
	return resp, nil
}

// prepare returns the request for attempt n: a fresh body for a repeat
// (refused, as ignored, when the request may not be repeated), the
// attempt's context, the budget and criticality headers, and the trace.
func (rt *roundTrip) prepare(ctx context.Context, n int) (*http.Request, error) {
	req, cfg := rt.req, &rt.t.cfg
	out := req
	if n > 1 {
		if !rt.repeatable || rt.getBody == nil {
			return nil, levee.Ignore(ErrNotReplayable)
		}
		body, err := rt.getBody()
		if err != nil {
			return nil, err
		}
		out = req.Clone(ctx)
		out.Body = body
	} else if ctx != req.Context() {
		out = req.WithContext(ctx)
	}
	if cfg.BudgetMargin >= 0 {
		if _, ok := ctx.Deadline(); ok || levee.CriticalityFrom(ctx) != levee.Critical {
			if out == req {
				out = req.Clone(ctx)
			}
			WriteBudgetAt(out, cfg.BudgetMargin, rt.t.clock().Now())
		}
	}
	if cfg.OnEvent != nil {
		if out == req {
			out = req.Clone(ctx)
		}
		out = out.WithContext(httptrace.WithClientTrace(out.Context(), rt.t.trace(out)))
	}
	return out, nil
}

// answer turns the pipeline's result into RoundTrip's: a response the
// policies counted as a failure is still the response; a refused repeat
// hands back the first attempt's answer; every other response is closed.
func (rt *roundTrip) answer(resp *http.Response, err error) (*http.Response, error) {
	var re *ResponseError
	if errors.As(err, &re) {
		resp, err = re.Response, nil
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if errors.Is(err, ErrNotReplayable) && resp == nil {
		if len(rt.winners) > 0 {
			resp, err = rt.winners[len(rt.winners)-1], nil
		} else if rt.lastErr != nil {
			err = rt.lastErr
		}
	}
	for _, w := range rt.winners {
		if w != resp {
			drainClose(w.Body)
		}
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func (t *Transport) clock() clock.Clock { return clock.Or(t.cfg.Clock) }

func (t *Transport) classify(resp *http.Response) levee.Result {
	if t.cfg.Classify != nil {
		return t.cfg.Classify(resp)
	}
	return ClassifyResponse(resp)
}

func drainClose(b io.ReadCloser) {
	if b == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, b, 64<<10)
	b.Close()
}

func isIdempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return req.Header.Get("Idempotency-Key") != "" || req.Header.Get("X-Idempotency-Key") != ""
}

func (t *Transport) trace(req *http.Request) *httptrace.ClientTrace {
	clk := t.clock()
	emit := t.cfg.OnEvent
	host := req.URL.Host
	var dnsStart, connStart, tlsStart int64
	start := clk.Nanotime()
	ev := func(reason string, since int64, value float64) {
		emit(levee.Event{Kind: levee.EventInfo, Policy: "http", Name: host, Time: clk.Now(),
			Reason: reason, Wait: time.Duration(clk.Nanotime() - since), Value: value})
	}
	return &httptrace.ClientTrace{
		DNSStart:          func(httptrace.DNSStartInfo) { dnsStart = clk.Nanotime() },
		DNSDone:           func(httptrace.DNSDoneInfo) { ev("dns", dnsStart, 0) },
		ConnectStart:      func(string, string) { connStart = clk.Nanotime() },
		ConnectDone:       func(string, string, error) { ev("connect", connStart, 0) },
		TLSHandshakeStart: func() { tlsStart = clk.Nanotime() },
		TLSHandshakeDone:  func(tls.ConnectionState, error) { ev("tls", tlsStart, 0) },
		GotConn: func(info httptrace.GotConnInfo) {
			reused := 0.0
			if info.Reused {
				reused = 1
			}
			ev("conn", start, reused)
		},
		GotFirstResponseByte: func() { ev("first_byte", start, 0) },
	}
}

// PerHost returns the pipelines of a client that keeps one per host, built
// with newPipeline on a host's first request and reused: a breaker per host
// isolates one failing host from the others. Pass its Pick method as
// [TransportConfig.Pipeline]; keep the [*Hosts] to reach the pipelines (and
// through [levee.Pipeline.Policies], their breakers) from health checks and
// dashboards. The set of hosts a client talks to must be bounded.
func PerHost(newPipeline func(host string) *levee.Pipeline) *Hosts {
	return &Hosts{newPipeline: newPipeline}
}

// Hosts holds one pipeline per host, made by [PerHost]. Its methods are
// safe for concurrent use. The zero value (or a nil newPipeline) builds no
// pipelines: Pick returns nil, so requests go without policies.
type Hosts struct {
	newPipeline func(host string) *levee.Pipeline
	m           sync.Map // host → *levee.Pipeline
	mu          sync.Mutex
}

// Pick returns the pipeline for the request's host, building it on first
// use. It is the [TransportConfig.Pipeline] hook.
func (h *Hosts) Pick(r *http.Request) *levee.Pipeline {
	host := r.URL.Host
	if p, ok := h.m.Load(host); ok {
		return p.(*levee.Pipeline)
	}
	if h.newPipeline == nil {
		return nil
	}
	h.mu.Lock() // build each host's pipeline once, not once per racing request
	defer h.mu.Unlock()
	if p, ok := h.m.Load(host); ok {
		return p.(*levee.Pipeline)
	}
	p := h.newPipeline(host)
	if p != nil {
		h.m.Store(host, p)
	}
	return p
}

// Pipeline returns the pipeline built for host ("example.com:8080", as in
// the request URL), and false when no request to host has been made yet.
func (h *Hosts) Pipeline(host string) (*levee.Pipeline, bool) {
	p, ok := h.m.Load(host)
	if !ok {
		return nil, false
	}
	return p.(*levee.Pipeline), true
}

// Range calls fn for each host and its pipeline, in no particular order,
// until fn returns false.
func (h *Hosts) Range(fn func(host string, p *levee.Pipeline) bool) {
	h.m.Range(func(k, v any) bool { return fn(k.(string), v.(*levee.Pipeline)) })
}

// HTTPTransportConfig holds the limits of [NewHTTPTransport]. Zero fields
// take the documented defaults; a negative duration disables that limit.
type HTTPTransportConfig struct {
	DialTimeout           time.Duration // default 5s
	KeepAlive             time.Duration // TCP keep-alive period, default 30s
	TLSHandshakeTimeout   time.Duration // default 5s
	ResponseHeaderTimeout time.Duration // time to the response headers, default 30s
	IdleConnTimeout       time.Duration // default 90s
	ExpectContinueTimeout time.Duration // default 1s
	MaxIdleConns          int           // all hosts, default 256
	MaxIdleConnsPerHost   int           // default 64 (the standard library's 2 forces new connections under load)
	MaxConnsPerHost       int           // default 0: unlimited
}

// NewHTTPTransport returns an *http.Transport with safe limits: the
// standard library's zero Transport has no dial, header or handshake
// timeouts and keeps only two idle connections per host.
func NewHTTPTransport(cfg HTTPTransportConfig) *http.Transport {
	d := &net.Dialer{Timeout: pick(cfg.DialTimeout, 5*time.Second), KeepAlive: pick(cfg.KeepAlive, 30*time.Second)}
	maxIdle, perHost := cfg.MaxIdleConns, cfg.MaxIdleConnsPerHost
	if maxIdle <= 0 {
		maxIdle = 256
	}
	if perHost <= 0 {
		perHost = 64
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   pick(cfg.TLSHandshakeTimeout, 5*time.Second),
		ResponseHeaderTimeout: pick(cfg.ResponseHeaderTimeout, 30*time.Second),
		IdleConnTimeout:       pick(cfg.IdleConnTimeout, 90*time.Second),
		ExpectContinueTimeout: pick(cfg.ExpectContinueTimeout, time.Second),
		MaxIdleConns:          maxIdle,
		MaxIdleConnsPerHost:   perHost,
		MaxConnsPerHost:       max(cfg.MaxConnsPerHost, 0),
	}
}

var _ http.RoundTripper = (*Transport)(nil)
