package leveegin

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/levee-go/levee"
	"github.com/levee-go/levee/leveehttp"
)

// refusedKey marks a gin context whose request a Levee middleware refused.
type refusedKey struct{}

// KeyRoute keys a request by the route template gin matched
// (c.FullPath(), such as "/users/:id"): a bounded set, safe as a limiter
// key or a metric label. It is "" for a request no route matched.
func KeyRoute(c *gin.Context) string { return c.FullPath() }

// KeyClientIP keys a request by gin's idea of the client address
// (c.ClientIP()), which trusts forwarding headers only from the engine's
// trusted proxies.
func KeyClientIP(c *gin.Context) string { return c.ClientIP() }

// Gate returns middleware that admits each request through g and reports
// its outcome from the status the handler wrote (opts.Classify, by default
// 5xx is a failure). A refused request gets opts.Reject's response (by
// default [leveehttp.WriteRejection]) and the chain is aborted. It
// allocates nothing per admitted request.
func Gate(g levee.Gate, opts leveehttp.Options) gin.HandlerFunc {
	return func(c *gin.Context) {
		permit, err := g.Acquire(c.Request.Context())
		if err != nil {
			refuse(c, err, &opts)
			return
		}
		serveGated(c, permit, &opts)
	}
}

// Keyed returns middleware that admits each request through g under the
// key key(c) picks, such as [KeyRoute] or [KeyClientIP]. Refusals and
// outcomes are handled as in [Gate].
func Keyed(g levee.KeyedGate, key func(*gin.Context) string, opts leveehttp.Options) gin.HandlerFunc {
	return func(c *gin.Context) {
		permit, err := g.AcquireKey(c.Request.Context(), key(c))
		if err != nil {
			refuse(c, err, &opts)
			return
		}
		serveGated(c, permit, &opts)
	}
}

// refuse answers a request whose admission failed with err and aborts the
// chain. A panic the gate returned as a [*levee.PanicError] is raised.
func refuse(c *gin.Context, err error, opts *leveehttp.Options) {
	if pe, ok := errors.AsType[*levee.PanicError](err); ok {
		panic(pe.Value)
	}
	if _, fault := errors.AsType[levee.Fault](err); !fault {
		markRefused(c)
	}
	if opts.Reject != nil {
		opts.Reject(c.Writer, c.Request, err)
	} else {
		leveehttp.WriteRejection(c.Writer, err, opts.ProblemJSON)
	}
	c.Abort()
}

// markRefused marks the request refused for the Levee gates around this
// middleware: gin gates through the context, leveehttp gates wrapping the
// engine through the ResponseWriter. It runs on refusals only, so its
// allocation (gin's context map) costs admitted requests nothing.
func markRefused(c *gin.Context) {
	c.Set(refusedKey{}, true)
	leveehttp.MarkRefused(c.Writer)
}

func refused(c *gin.Context) bool {
	_, ok := c.Get(refusedKey{})
	return ok
}

// outcome classifies the response: ignored when a Levee middleware inside
// refused the request, else opts' classification of the status.
func outcome(c *gin.Context, opts *leveehttp.Options) levee.Result {
	st := c.Writer.Status()
	if st >= 400 && refused(c) {
		return levee.Ignored
	}
	if opts.Classify != nil {
		return opts.Classify(st)
	}
	return leveehttp.ClassifyStatus(st)
}

func serveGated(c *gin.Context, permit levee.Permit, opts *leveehttp.Options) {
	returned := false
	defer func() {
		// A handler that did not return panicked: record the failure and
		// let the panic go on to gin's Recovery, with its own stack.
		if !returned {
			permit.Record(levee.Outcome{Result: levee.Failure, Err: errPanicked})
		}
	}()
	c.Next()
	returned = true
	permit.Record(levee.Outcome{Result: outcome(c, opts)})
}

var errPanicked = errors.New("leveegin: handler panicked")

// Handler returns middleware that runs the rest of the chain through the
// pipeline p: gates, time limits and fallbacks apply as in [levee.Do]; a
// time limit's deadline is put on the request's context. Retries and hedges
// must not be in p: a handler that has written cannot run again. A status
// that opts.Classify counts as a failure reaches the pipeline as a
// [*leveehttp.StatusError]. When the pipeline refuses or fails the request
// before the handler wrote, the request gets opts.Reject's response (by
// default [leveehttp.WriteRejection]: 429, 503 or 504). A panic goes on to
// gin's Recovery, or is answered 500 in a pipeline with ReturnPanics.
// Handler allocates per request (the call closure).
func Handler(p *levee.Pipeline, opts leveehttp.Options) gin.HandlerFunc {
	return func(c *gin.Context) {
		orig := c.Request
		err := p.Run(orig.Context(), func(ctx context.Context) error {
			if ctx != orig.Context() {
				c.Request = orig.WithContext(ctx)
			}
			c.Next()
			st := c.Writer.Status()
			switch {
			case st >= 400 && refused(c):
				return levee.Ignore(&leveehttp.StatusError{Code: st})
			case opts.Classify != nil && opts.Classify(st) == levee.Failure,
				opts.Classify == nil && leveehttp.ClassifyStatus(st) == levee.Failure:
				return &leveehttp.StatusError{Code: st}
			}
			return nil
		})
		c.Request = orig
		if _, ok := errors.AsType[*leveehttp.StatusError](err); err == nil || ok || c.Writer.Written() {
			return
		}
		if _, ok := errors.AsType[*levee.PanicError](err); ok {
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		refuse(c, err, &opts)
	}
}

// RateLimit returns middleware that asks l about each request under the key
// key(c) picks (nil means one key, "", for all requests), as
// [leveehttp.RateLimit] does: an admitted request goes on with the
// rate-limit fields set; a rejected one gets 429 with Retry-After and the
// fields, and the chain is aborted; a failed decision gets 503, or goes on
// untouched with opts.FailOpen. It allocates nothing per admitted request
// beyond the header fields' values.
func RateLimit(l levee.KeyedLimiter, key func(*gin.Context) string, opts leveehttp.RateLimitOptions) gin.HandlerFunc {
	rejected := opts.Rejected
	if rejected == nil {
		rejected = leveehttp.DefaultRejected
	}
	return func(c *gin.Context) {
		k := ""
		if key != nil {
			k = key(c)
		}
		d, err := levee.Decision{}, errNoLimiter
		if l != nil {
			d, err = l.DecideKey(c.Request.Context(), k)
		}
		h := c.Writer.Header()
		switch {
		case err != nil && opts.FailOpen:
			c.Next()
		case err != nil:
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("X-Content-Type-Options", "nosniff")
			markRefused(c)
			c.Writer.WriteHeader(http.StatusServiceUnavailable)
			_, _ = c.Writer.WriteString("rate limit unavailable\n")
			c.Abort()
		case d.Allowed:
			if !opts.SkipHeadersOnSuccess {
				leveehttp.WriteRateLimitHeaders(h, d, opts.Headers)
			}
			c.Next()
		default:
			leveehttp.WriteRateLimitHeaders(h, d, opts.Headers)
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("X-Content-Type-Options", "nosniff")
			markRefused(c)
			c.Writer.WriteHeader(http.StatusTooManyRequests)
			rejected(c.Writer, c.Request)
			c.Abort()
		}
	}
}

var errNoLimiter = errors.New("leveegin: RateLimit has a nil limiter")
