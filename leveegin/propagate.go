package leveegin

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/levee-go/levee/leveehttp"
)

// Propagate returns middleware that reads the caller's remaining budget
// (Grpc-Timeout or X-Request-Timeout) and criticality (X-Criticality) from
// the request and puts them on its context, as [leveehttp.Propagate] does:
// the budget, capped by opts.MaxTimeout, becomes the context's deadline,
// which Levee's gates and handlers see through c.Request.Context().
func Propagate(opts leveehttp.PropagateOptions) gin.HandlerFunc {
	return viaHTTP(leveehttp.Propagate(opts))
}

// Idempotency returns middleware that makes retries of a route's requests
// safe with the Idempotency-Key header, as [leveehttp.Idempotency] does
// (the first request runs and its response is stored; a retry gets it
// replayed, 409 while the first runs, 422 for another payload, 400 without
// a key where one is required). The response the rest of the chain writes
// through c.Writer is what is stored.
func Idempotency(store leveehttp.IdempotencyStore, opts leveehttp.IdempotencyOptions) gin.HandlerFunc {
	return viaHTTP(leveehttp.Idempotency(store, opts))
}

// viaHTTP runs net/http middleware mw around the rest of a gin chain: the
// request and ResponseWriter mw passes on become c.Request and c.Writer for
// the handlers after it, and are restored when they return. When mw answers
// without calling on, the chain is aborted. It allocates per request.
func viaHTTP(mw func(http.Handler) http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		orig, origW := c.Request, c.Writer
		called := false
		mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			called = true
			c.Request = r
			if w != http.ResponseWriter(origW) {
				c.Writer = &writer{ResponseWriter: origW, w: w}
			}
			c.Next()
		})).ServeHTTP(origW, orig)
		c.Request, c.Writer = orig, origW
		if !called {
			c.Abort()
		}
	}
}

// writer is gin's ResponseWriter with its writes sent through w, a writer
// net/http middleware wrapped around gin's; gin's bookkeeping (Status,
// Size, Written) stays with the gin writer underneath, which w writes to.
type writer struct {
	gin.ResponseWriter
	w http.ResponseWriter
}

func (w *writer) WriteHeader(code int) { w.w.WriteHeader(code) }

func (w *writer) Write(b []byte) (int, error) { return w.w.Write(b) }

func (w *writer) WriteString(s string) (int, error) { return w.w.Write([]byte(s)) }

// WriteHeaderNow sends the status gin holds through w.
func (w *writer) WriteHeaderNow() {
	if !w.ResponseWriter.Written() {
		w.w.WriteHeader(w.ResponseWriter.Status())
	}
}

// Flush flushes through w when it can.
func (w *writer) Flush() {
	if f, ok := w.w.(http.Flusher); ok {
		f.Flush()
		return
	}
	w.ResponseWriter.Flush()
}

// Unwrap returns w, for http.ResponseController and Levee's refusal marks.
func (w *writer) Unwrap() http.ResponseWriter { return w.w }

var _ gin.ResponseWriter = (*writer)(nil)
