package leveehttp

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
)

// responseWriter records the status a handler wrote, so middleware can
// classify the outcome, while keeping the optional interfaces of the writer it
// wraps working: Flush, Hijack, ReadFrom and Push delegate when the
// underlying writer supports them, and Unwrap lets http.ResponseController
// reach it. Wrappers are pooled: a gated request allocates none.
type responseWriter struct {
	w           http.ResponseWriter
	status      int
	wroteHeader bool
	hijacked    bool
	// refused is set when a Levee middleware refused the request: the
	// response is a refusal, not the handler's, so outer gates ignore it.
	refused bool
	written int64
}

var writerPool = sync.Pool{New: func() any { return new(responseWriter) }}

// wrap returns w as a *responseWriter and whether the caller owns it (and
// must release it). A writer already wrapped by an outer Levee middleware is
// shared, not wrapped again.
func wrap(w http.ResponseWriter) (*responseWriter, bool) {
	if rw, ok := w.(*responseWriter); ok {
		return rw, false
	}
	rw := writerPool.Get().(*responseWriter)
	*rw = responseWriter{w: w}
	return rw, true
}

func (rw *responseWriter) release() {
	*rw = responseWriter{}
	writerPool.Put(rw)
}

// Status returns the status written so far: 200 once the body started without
// an explicit WriteHeader, 0 while nothing was written.
func (rw *responseWriter) Status() int {
	if rw.status == 0 && rw.wroteHeader {
		return http.StatusOK
	}
	return rw.status
}

func (rw *responseWriter) Header() http.Header { return rw.w.Header() }

func (rw *responseWriter) WriteHeader(code int) {
	if !rw.wroteHeader && code >= 200 || code == http.StatusSwitchingProtocols {
		rw.status = code
		rw.wroteHeader = true
	}
	rw.w.WriteHeader(code)
}

func (rw *responseWriter) Write(p []byte) (int, error) {
	if !rw.wroteHeader {
		rw.status = http.StatusOK
		rw.wroteHeader = true
	}
	n, err := rw.w.Write(p)
	rw.written += int64(n)
	return n, err
}

// Flush implements http.Flusher; it does nothing when the underlying writer
// cannot flush.
func (rw *responseWriter) Flush() {
	if !rw.wroteHeader {
		rw.status = http.StatusOK
		rw.wroteHeader = true
	}
	if f, ok := rw.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack implements http.Hijacker for writers that support it, and returns
// http.ErrNotSupported otherwise.
func (rw *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := rw.w.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	c, b, err := h.Hijack()
	if err == nil {
		rw.hijacked = true
		if !rw.wroteHeader {
			rw.status = http.StatusSwitchingProtocols
			rw.wroteHeader = true
		}
	}
	return c, b, err
}

// ReadFrom implements io.ReaderFrom, keeping sendfile and splice for writers
// that have them.
func (rw *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if !rw.wroteHeader {
		rw.status = http.StatusOK
		rw.wroteHeader = true
	}
	var n int64
	var err error
	if rf, ok := rw.w.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(writerOnly{rw.w}, r)
	}
	rw.written += n
	return n, err
}

// Push implements http.Pusher for writers that support it.
func (rw *responseWriter) Push(target string, opts *http.PushOptions) error {
	if p, ok := rw.w.(http.Pusher); ok {
		return p.Push(target, opts)
	}
	return http.ErrNotSupported
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.w }

// markRefused records on w that a Levee middleware is refusing the request,
// before it writes the refusal, so that every Levee gate around it records
// the request as ignored instead of taking the refusal's 503 or 429 for the
// handler's. It finds the writer an outer Levee middleware wrapped through
// any wrappers in between that have an Unwrap method (as
// http.ResponseController requires), and does nothing when there is none.
func markRefused(w http.ResponseWriter) {
	for {
		switch x := w.(type) {
		case *responseWriter:
			x.refused = true
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return
		}
	}
}

// writerOnly hides ReadFrom so io.Copy does not recurse.
type writerOnly struct{ io.Writer }

var (
	_ http.Flusher  = (*responseWriter)(nil)
	_ http.Hijacker = (*responseWriter)(nil)
	_ io.ReaderFrom = (*responseWriter)(nil)
	_ http.Pusher   = (*responseWriter)(nil)
)
