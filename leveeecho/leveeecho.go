package leveeecho

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/levee-go/levee"
	"github.com/levee-go/levee/leveehttp"
)

// refusedKey is the context key that marks a request a Levee middleware
// refused.
const refusedKey = "levee.refused"

// KeyRoute keys a request by the route template Echo matched (c.Path(),
// such as "/users/:id"): a bounded set, safe as a limiter key or a metric
// label.
func KeyRoute(c echo.Context) string { return c.Path() }

// KeyClientIP keys a request by Echo's idea of the client address
// (c.RealIP(), which follows the Echo instance's IPExtractor).
func KeyClientIP(c echo.Context) string { return c.RealIP() }

// Gate returns middleware that admits each request through g and reports
// its outcome from the response's status (opts.Classify, by default 5xx is
// a failure). A refused request gets opts.Reject's response (by default
// [leveehttp.WriteRejection]) and next does not run. It allocates nothing
// per admitted request.
func Gate(g levee.Gate, opts leveehttp.Options) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			permit, err := g.Acquire(c.Request().Context())
			if err != nil {
				return refuse(c, err, &opts)
			}
			return serveGated(c, next, permit, &opts)
		}
	}
}

// Keyed returns middleware that admits each request through g under the
// key key(c) picks, such as [KeyRoute] or [KeyClientIP]. Refusals and
// outcomes are handled as in [Gate].
func Keyed(g levee.KeyedGate, key func(echo.Context) string, opts leveehttp.Options) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			permit, err := g.AcquireKey(c.Request().Context(), key(c))
			if err != nil {
				return refuse(c, err, &opts)
			}
			return serveGated(c, next, permit, &opts)
		}
	}
}

// refuse answers a request whose admission failed with err. A panic the
// gate returned as a [*levee.PanicError] is raised.
func refuse(c echo.Context, err error, opts *leveehttp.Options) error {
	if pe, ok := errors.AsType[*levee.PanicError](err); ok {
		panic(pe.Value)
	}
	if _, fault := errors.AsType[levee.Fault](err); !fault {
		markRefused(c)
	}
	w := c.Response()
	if opts.Reject != nil {
		opts.Reject(w, c.Request(), err)
	} else {
		leveehttp.WriteRejection(w, err, opts.ProblemJSON)
	}
	return nil
}

// markRefused marks the request refused for the Levee gates around this
// middleware: Echo's through the context, leveehttp's wrapping the Echo
// instance through the ResponseWriter. It runs on refusals only.
func markRefused(c echo.Context) {
	c.Set(refusedKey, true)
	leveehttp.MarkRefused(c.Response())
}

// Status returns the status a request's response has, or will have once
// Echo's HTTPErrorHandler has answered err: the written status when the
// response is committed or err is nil, an *echo.HTTPError's code, else 500
// (as Echo's default error handler answers).
func Status(c echo.Context, err error) int {
	res := c.Response()
	if res.Committed || err == nil {
		return res.Status
	}
	if he, ok := errors.AsType[*echo.HTTPError](err); ok {
		return he.Code
	}
	return http.StatusInternalServerError
}

// refused reports whether a Levee middleware inside refused the request,
// for a response of status st.
func refused(c echo.Context, st int) bool {
	return st >= 400 && c.Get(refusedKey) != nil
}

func classify(opts *leveehttp.Options, st int) levee.Result {
	if opts.Classify != nil {
		return opts.Classify(st)
	}
	return leveehttp.ClassifyStatus(st)
}

func serveGated(c echo.Context, next echo.HandlerFunc, permit levee.Permit, opts *leveehttp.Options) error {
	returned := false
	defer func() {
		// A handler that did not return panicked: record the failure and
		// let the panic go on to Echo's Recover, with its own stack.
		if !returned {
			permit.Record(levee.Outcome{Result: levee.Failure, Err: errPanicked})
		}
	}()
	err := next(c)
	returned = true
	st := Status(c, err)
	res := levee.Ignored
	if !refused(c, st) {
		res = classify(opts, st)
	}
	permit.Record(levee.Outcome{Result: res})
	return err
}

var errPanicked = errors.New("leveeecho: handler panicked")

// Handler returns middleware that runs next through the pipeline p: gates,
// time limits and fallbacks apply as in [levee.Do]; a time limit's deadline
// is put on the request's context. Retries and hedges must not be in p: a
// handler that has answered cannot run again. A status that opts.Classify
// counts as a failure reaches the pipeline as a [*leveehttp.StatusError].
// When the pipeline refuses the request before next answered, the request
// gets opts.Reject's response (by default [leveehttp.WriteRejection]: 429,
// 503 or 504); next's own error is returned for Echo to answer, as is a
// panic that a pipeline with ReturnPanics returns (Echo answers 500). A
// panic otherwise goes on to Echo's Recover. Handler allocates per request
// (the call closure).
func Handler(p *levee.Pipeline, opts leveehttp.Options) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			orig := c.Request()
			var herr error
			err := p.Run(orig.Context(), func(ctx context.Context) error {
				if ctx != orig.Context() {
					c.SetRequest(orig.WithContext(ctx))
				}
				herr = next(c)
				st := Status(c, herr)
				switch {
				case refused(c, st):
					return levee.Ignore(&leveehttp.StatusError{Code: st})
				case classify(&opts, st) == levee.Failure:
					return &leveehttp.StatusError{Code: st}
				}
				return nil
			})
			c.SetRequest(orig)
			if c.Response().Committed || herr != nil {
				return herr
			}
			if _, ok := errors.AsType[*leveehttp.StatusError](err); err == nil || ok {
				return nil
			}
			if _, ok := errors.AsType[*levee.PanicError](err); ok {
				return err // a panic returned by a ReturnPanics pipeline: Echo answers 500
			}
			return refuse(c, err, &opts)
		}
	}
}

// RateLimit returns middleware that asks l about each request under the key
// key(c) picks (nil means one key, "", for all requests), as
// [leveehttp.RateLimit] does: an admitted request goes on with the
// rate-limit fields set; a rejected one gets 429 with Retry-After and the
// fields; a failed decision gets 503, or goes on untouched with
// opts.FailOpen.
func RateLimit(l levee.KeyedLimiter, key func(echo.Context) string, opts leveehttp.RateLimitOptions) echo.MiddlewareFunc {
	rejected := opts.Rejected
	if rejected == nil {
		rejected = leveehttp.DefaultRejected
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			k := ""
			if key != nil {
				k = key(c)
			}
			d, err := levee.Decision{}, errNoLimiter
			if l != nil {
				d, err = l.DecideKey(c.Request().Context(), k)
			}
			w := c.Response()
			h := w.Header()
			switch {
			case err != nil && opts.FailOpen:
				return next(c)
			case err != nil:
				h.Set("Content-Type", "text/plain; charset=utf-8")
				h.Set("X-Content-Type-Options", "nosniff")
				markRefused(c)
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("rate limit unavailable\n"))
				return nil
			case d.Allowed:
				if !opts.SkipHeadersOnSuccess {
					leveehttp.WriteRateLimitHeaders(h, d, opts.Headers)
				}
				return next(c)
			}
			leveehttp.WriteRateLimitHeaders(h, d, opts.Headers)
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("X-Content-Type-Options", "nosniff")
			markRefused(c)
			w.WriteHeader(http.StatusTooManyRequests)
			rejected(w, c.Request())
			return nil
		}
	}
}

var errNoLimiter = errors.New("leveeecho: RateLimit has a nil limiter")

// Propagate returns middleware that reads the caller's remaining budget
// (Grpc-Timeout or X-Request-Timeout) and criticality (X-Criticality) from
// the request and puts them on its context, as [leveehttp.Propagate] does.
func Propagate(opts leveehttp.PropagateOptions) echo.MiddlewareFunc {
	return viaHTTP(leveehttp.Propagate(opts))
}

// Idempotency returns middleware that makes retries of a route's requests
// safe with the Idempotency-Key header, as [leveehttp.Idempotency] does.
// An error next returns is answered by Echo's HTTPErrorHandler inside the
// middleware (c.Error), so that the answer is what is stored and replayed;
// the error is still returned, and Echo does not answer it twice.
func Idempotency(store leveehttp.IdempotencyStore, opts leveehttp.IdempotencyOptions) echo.MiddlewareFunc {
	mw := leveehttp.Idempotency(store, opts)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return viaHTTP(func(h http.Handler) http.Handler { return mw(h) })(func(c echo.Context) error {
			err := next(c)
			if err != nil && !c.Response().Committed {
				c.Error(err)
			}
			return err
		})
	}
}

// viaHTTP runs net/http middleware mw around next: the request and writer
// mw passes on become the context's for next (the writer under Echo's
// Response, which keeps its bookkeeping), and are restored after it. An
// answer mw writes itself is recorded on Echo's Response too. It allocates
// per request.
func viaHTTP(mw func(http.Handler) http.Handler) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			orig, res := c.Request(), c.Response()
			origW := res.Writer
			t := &tailWriter{ResponseWriter: origW}
			var err error
			called := false
			mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				called = true
				c.SetRequest(r)
				res.Writer = w
				err = next(c)
			})).ServeHTTP(t, orig)
			c.SetRequest(orig)
			res.Writer = origW
			if !called && t.status != 0 {
				res.Status, res.Committed, res.Size = t.status, true, t.size
			}
			return err
		}
	}
}

// tailWriter is the writer under Echo's Response, recording what net/http
// middleware writes to it directly.
type tailWriter struct {
	http.ResponseWriter
	status int
	size   int64
}

func (t *tailWriter) WriteHeader(code int) {
	if t.status == 0 {
		t.status = code
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *tailWriter) Write(b []byte) (int, error) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	n, err := t.ResponseWriter.Write(b)
	t.size += int64(n)
	return n, err
}

// Flush flushes the writer underneath when it can.
func (t *tailWriter) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap returns the writer underneath, for http.ResponseController and
// Levee's refusal marks.
func (t *tailWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

var _ http.Flusher = (*tailWriter)(nil)
