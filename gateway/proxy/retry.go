package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/leveehttp"
	"github.com/levee-go/levee/retry"
)

// retrier is the transport of a route with a retry policy: it makes the
// attempts of one forwarded request, each to a target admitted for it, and
// hands ReverseProxy the first answer worth keeping. Retrying inside the
// transport means that no attempt is made once the client has been sent
// anything: ReverseProxy writes nothing before RoundTrip returns.
type retrier struct {
	policy   *retry.Retry
	perTry   time.Duration // 0: only the route timeout
	on       retryOn
	idemKey  string // canonical; "" when only idempotent methods are retried
	maxBody  int64  // longest body buffered for replay
	clk      clock.Clock
	upstream *upstream
	next     http.RoundTripper // the upstream's transport, or a hedger
	budget   retry.Budget      // nil without one
}

// retryOn is the parsed retry_on list.
type retryOn struct {
	statuses       map[int]bool
	any5xx         bool
	gatewayError   bool // 502, 503, 504, and the gateway's own 502 and 504
	connectFailure bool
	reset          bool
}

// newRetrier compiles a route's retry section. The budget, when there is
// one, is the route's: every request of the route draws on it.
func newRetrier(rc config.Retry, u *upstream, routeTimeout time.Duration, clk clock.Clock) (*retrier, error) {
	cfg := retry.Config{
		MaxAttempts: rc.Attempts,
		BaseDelay:   rc.Backoff.Initial,
		MaxDelay:    rc.Backoff.Max,
		Multiplier:  rc.Backoff.Multiplier,
		// An upstream's Retry-After is waited for when it asks for longer
		// than the backoff, up to the route's timeout: a retry whose wait
		// would pass the route's deadline is not made, and the client gets
		// the upstream's answer, Retry-After included.
		MaxRetryAfter: routeTimeout,
		Clock:         clk,
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = time.Nanosecond
	}
	cfg.MaxDelay = max(cfg.MaxDelay, cfg.BaseDelay)
	if b := rc.Budget; b != nil {
		bc := retry.RatioBudgetConfig{Ratio: b.Ratio.Fraction(), MinPerSecond: b.MinPerSecond, Clock: clk}
		if bc.Ratio <= 0 {
			bc.Ratio = 1e-9 // 0%: the library's zero means its default
		}
		if bc.MinPerSecond == 0 {
			bc.MinPerSecond = -1 // no allowance; the library's zero means 10/s
		}
		budget, err := retry.NewRatioBudget(bc)
		if err != nil {
			return nil, err
		}
		cfg.Budget = budget
	}
	pol, err := retry.New(cfg)
	if err != nil {
		return nil, err
	}
	rt := &retrier{
		policy: pol, perTry: rc.PerTryTimeout, maxBody: int64(rc.MaxReplayBody),
		clk: clock.Or(clk), upstream: u, next: u.transport, budget: cfg.Budget,
	}
	if rc.IdempotencyKeyHeader != "" {
		rt.idemKey = textproto.CanonicalMIMEHeaderKey(rc.IdempotencyKeyHeader)
	}
	for _, s := range rc.RetryOn {
		switch s {
		case "5xx":
			rt.on.any5xx = true
		case "gateway_error":
			rt.on.gatewayError = true
		case "connect_failure":
			rt.on.connectFailure = true
		case "reset":
			rt.on.reset = true
		default:
			n, err := strconv.Atoi(s)
			if err != nil {
				return nil, errors.New("retry_on: " + strconv.Quote(s) + " is not a condition")
			}
			if rt.on.statuses == nil {
				rt.on.statuses = map[int]bool{}
			}
			rt.on.statuses[n] = true
		}
	}
	return rt, nil
}

// idempotent reports whether r may be sent more than once: its method is
// idempotent, or it carries the idempotency key.
func (c *retrier) idempotent(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	if c.idemKey == "" {
		return false
	}
	v := r.Header[c.idemKey]
	return len(v) > 0 && v[0] != ""
}

// RoundTrip makes the attempts of one request. The first goes to the target
// the request path admitted; each retry goes to another target, admitted
// past its breaker, unless the failed ones are all that is left. Every
// attempt but the last is settled here (breaker and outlier detection); the
// last is settled by the request path once its answer has been copied.
func (c *retrier) RoundTrip(req *http.Request) (*http.Response, error) {
	ex := exchangeOf(req)
	if ex == nil || ex.target == nil {
		return c.next.RoundTrip(req)
	}
	replay := c.policy.MaxAttempts() > 1 && c.idempotent(req)
	var body []byte
	if replay && req.Body != nil && req.Body != http.NoBody {
		var err error
		if body, replay, err = c.buffer(req); err != nil {
			return nil, err
		}
	}
	var tried [4]*target
	triedN := 0
	var prev time.Duration
	for n := 1; ; n++ {
		out := req
		if n > 1 {
			out = req.Clone(req.Context())
			out.URL.Scheme, out.URL.Host = ex.target.url.Scheme, ex.target.url.Host
		}
		if body != nil {
			out.Body = io.NopCloser(bytes.NewReader(body))
		}
		resp, err := c.attempt(out)
		f := c.failed(resp, err)
		res := levee.Failure
		if f == nil {
			res = levee.Success
		} else if !replay || !f.retryable {
			// Not to be retried: the policy only counts the request.
			res = levee.Ignored
		}
		dec := c.policy.Attempted(req.Context(), levee.Attempt{N: n, Err: f.asError(), Result: res, Delay: prev})
		if !dec.Retry {
			return resp, err
		}
		if triedN < len(tried) {
			tried[triedN] = ex.target
			triedN++
		}
		next, permit, aerr := c.upstream.admitOther(req, tried[:triedN])
		if aerr != nil { // every target's breaker is open: keep this answer
			return resp, err
		}
		if resp != nil {
			drain(resp.Body)
		}
		settle(req, c.upstream, ex.target, ex.permit, f.status, false)
		ex.target.active.Add(-1)
		next.active.Add(1)
		ex.target, ex.permit = next, permit
		if err := c.policy.Wait(req.Context(), dec.Delay); err != nil {
			return nil, err
		}
		prev = dec.Delay
	}
}

// buffer reads a request body of at most maxBody bytes into memory, so
// that it can be sent again. A longer body is put back together, to be
// sent once as it comes: replay is then false.
func (c *retrier) buffer(req *http.Request) (body []byte, replay bool, err error) {
	if req.ContentLength > c.maxBody {
		return nil, false, nil
	}
	buf, err := io.ReadAll(io.LimitReader(req.Body, c.maxBody+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(buf)) > c.maxBody {
		req.Body = readCloser{io.MultiReader(bytes.NewReader(buf), req.Body), req.Body}
		return nil, false, nil
	}
	_ = req.Body.Close()
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	return buf, true, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// attempt sends one request upstream under the per-try timeout, which
// bounds the wait for the response header; once the header has come, the
// body is bounded by the route's timeout alone.
func (c *retrier) attempt(out *http.Request) (*http.Response, error) {
	if c.perTry <= 0 {
		return c.next.RoundTrip(out)
	}
	ctx, cancel := context.WithCancelCause(out.Context())
	out = out.WithContext(ctx)
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > c.perTry {
		// The upstream has until the per-try timeout, not the route's.
		setBudget(out.Header, c.perTry)
	}
	timer := c.clk.AfterFunc(c.perTry, func() { cancel(errPerTryTimeout) })
	resp, err := c.next.RoundTrip(out)
	if !timer.Stop() { // the per-try timeout passed
		if resp != nil {
			drain(resp.Body)
		}
		cancel(errPerTryTimeout)
		return nil, errPerTryTimeout
	}
	if err != nil {
		cancel(nil)
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// errPerTryTimeout is the error of an attempt cut by the per-try timeout.
// It is a timeout, so the client is answered 504.
var errPerTryTimeout error = perTryTimeout{}

type perTryTimeout struct{}

func (perTryTimeout) Error() string   { return "proxy: per-try timeout" }
func (perTryTimeout) Timeout() bool   { return true }
func (perTryTimeout) Temporary() bool { return true }

// cancelBody ends an attempt's context when its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}

// attemptFailure is how an attempt failed, for the retry decision: the
// status the client would get, whether retry_on covers it, and the wait an
// upstream's Retry-After asks for.
type attemptFailure struct {
	status     int
	retryable  bool
	retryAfter time.Duration
	err        error
}

func (f *attemptFailure) Error() string {
	if f.err != nil {
		return f.err.Error()
	}
	return "proxy: upstream answered " + strconv.Itoa(f.status)
}

func (f *attemptFailure) Unwrap() error { return f.err }

// RetryAfter is the wait the upstream asked for; the retry policy waits at
// least that long.
func (f *attemptFailure) RetryAfter() time.Duration { return f.retryAfter }

func (f *attemptFailure) asError() error {
	if f == nil {
		return nil
	}
	return f
}

// failed classifies an attempt: nil when it succeeded (any answer retry_on
// does not list counts as one for retrying, whatever the breaker makes of
// it).
func (c *retrier) failed(resp *http.Response, err error) *attemptFailure {
	if err != nil {
		fl := classify(err, nil)
		f := &attemptFailure{status: fl.status, err: err}
		switch fl.reason {
		case ReasonConnectFailure:
			f.retryable = c.on.connectFailure || c.on.gatewayError || c.on.any5xx || c.on.statuses[fl.status]
		case ReasonReset:
			f.retryable = c.on.reset || c.on.gatewayError || c.on.any5xx || c.on.statuses[fl.status]
		case ReasonBodyTooLarge:
			f.retryable = false
		default:
			f.retryable = c.on.gatewayError || c.on.any5xx || c.on.statuses[fl.status]
		}
		if errors.Is(err, context.Canceled) && !errors.Is(err, errPerTryTimeout) {
			f.retryable = false // the client went away
		}
		return f
	}
	s := resp.StatusCode
	ok := c.on.statuses[s] || c.on.any5xx && s >= 500 || c.on.gatewayError && s >= 502 && s <= 504
	if !ok {
		if s >= 500 {
			return &attemptFailure{status: s}
		}
		return nil
	}
	f := &attemptFailure{status: s, retryable: true}
	if s == http.StatusServiceUnavailable || s == http.StatusTooManyRequests {
		if w, ok := leveehttp.RetryAfterHeader(resp.Header, c.clk.Now(), 0); ok {
			f.retryAfter = w
		}
	}
	return f
}

// drain reads a little of a discarded body, so that its connection may be
// reused, and closes it.
func drain(b io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, b, 4<<10)
	_ = b.Close()
}

// admitOther admits a target for a retry: one not in tried and available
// (healthy, not ejected) first, then a tried one that is available, then
// any; with a breaker per target, each candidate must pass its breaker. The
// balancer's choice comes first within each tier, then the others from a
// random start.
func (u *upstream) admitOther(r *http.Request, tried []*target) (*target, levee.Permit, error) {
	var pm levee.Permit
	if !u.perTarget && u.breaker != nil {
		var err error
		if pm, err = u.breaker.Allow(); err != nil {
			return nil, levee.Permit{}, err
		}
	}
	now := u.now()
	first := u.balancer.pick(r)
	n := len(u.targets)
	start := rand.IntN(n)
	var best error
	for tier := range 3 {
		for i := -1; i < n; i++ {
			t := first
			if i >= 0 {
				if t = u.targets[(start+i)%n]; t == first {
					continue
				}
			}
			was := contains(tried, t)
			switch avail := t.available(now); tier {
			case 0:
				if was || !avail {
					continue
				}
			case 1:
				if !was || !avail {
					continue
				}
			default:
				if avail {
					continue
				}
			}
			if !u.perTarget {
				return t, pm, nil
			}
			p, err := t.breaker.Allow()
			if err == nil {
				return t, p, nil
			}
			if best == nil || shorterWait(err, best) {
				best = err
			}
		}
	}
	if best == nil {
		best = errors.New("proxy: no target")
	}
	pm.Record(levee.Outcome{Result: levee.Ignored}) // the upstream's permit, when no target took it
	return nil, levee.Permit{}, best
}

func contains(ts []*target, t *target) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

var (
	_ http.RoundTripper = (*retrier)(nil)
	_ net.Error         = perTryTimeout{}
)
