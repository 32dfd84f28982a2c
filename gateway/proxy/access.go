package proxy

import (
	"context"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"
)

// RequestIDHeader is the field that carries a request's id: the client's
// when it sent a well-formed one, otherwise one the gateway made. It is
// sent upstream and answered to the client, and it is in the access log.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds a client's request id: a longer one is replaced.
const maxRequestIDLen = 128

// requestID returns the client's request id when it is well formed (1 to
// 128 letters, digits and "-_.:"), or a new random one of 32 hex digits.
func requestID(h http.Header) string {
	if vs := h[RequestIDHeader]; len(vs) == 1 && validRequestID(vs[0]) {
		return vs[0]
	}
	var b [16]byte
	for i := 0; i < len(b); i += 8 {
		v := rand.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(b[:])
}

func validRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// logAccess writes the access log record of a finished request. The path
// is logged without its query, which may carry secrets.
func (p *Proxy) logAccess(r *http.Request, w *statusWriter, ex *exchange, listener string, start int64) {
	status := w.status
	if w.aborted {
		status = 0 // no whole answer was sent
	}
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs,
		slog.String("listener", listener),
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int64("bytes", w.written),
		slog.Float64("duration_seconds", time.Duration(p.clk.Nanotime()-start).Seconds()),
		slog.String("request_id", ex.id),
	)
	if ex.client.IsValid() {
		attrs = append(attrs, slog.String("client_ip", ex.client.String()))
	}
	if ex.route != nil {
		attrs = append(attrs, slog.String("route", ex.route.name), slog.String("upstream", ex.route.upstream.name))
	}
	if ex.target != nil {
		attrs = append(attrs, slog.String("target", ex.target.url.Host))
	}
	if reason := w.Header().Get(ReasonHeader); reason != "" {
		attrs = append(attrs, slog.String("reason", reason))
	}
	if id := ex.span.TraceID(); id != "" {
		attrs = append(attrs, slog.String("trace_id", id))
	}
	if w.aborted {
		attrs = append(attrs, slog.Bool("aborted", true))
	}
	if r.Context().Err() != nil {
		attrs = append(attrs, slog.Bool("client_gone", true))
	}
	p.access.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
}
