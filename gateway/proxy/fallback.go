package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/fallback"
	"github.com/levee-go/levee/gateway/config"
)

// Reasons a fallback answered instead of the route's upstream, in
// [ReasonHeader].
const (
	// ReasonFallbackStale is the reason given when the last good answer
	// to the same GET, no older than fallback.stale_max_age, was served.
	ReasonFallbackStale = "fallback_stale"
	// ReasonFallbackUpstream is the reason given when fallback.upstream
	// answered.
	ReasonFallbackUpstream = "fallback_upstream"
	// ReasonFallbackStatic is the reason given when the fallback's fixed
	// response (status with body or file) was served.
	ReasonFallbackStatic = "fallback_static"
)

// maxStaleBody bounds the body of an answer kept for stale-on-error: a
// longer one is passed through and not kept.
const maxStaleBody = 1 << 20

// fallbacker is the transport of a route with a fallback: it wraps the
// route's own transport (a [retrier] or the upstream's), and when that
// fails (no answer, or a 5xx) it answers, in this order, with the last good
// answer to the same GET, with the fallback upstream, or with the fixed
// response. It is the outermost policy around the call, so it sees what
// retries made of it.
type fallbacker struct {
	next     http.RoundTripper
	stale    *fallback.Cache[*staleAnswer] // nil without stale_max_age
	other    *upstream                     // nil without fallback.upstream
	status   int
	body     []byte
	ctype    string
	upstream *upstream // the route's own
}

// staleAnswer is a kept good answer.
type staleAnswer struct {
	header http.Header
	body   []byte
}

type staleKey struct{}

func newFallbacker(fc config.Fallback, next http.RoundTripper, own, other *upstream, dir string, clk clock.Clock) (*fallbacker, error) {
	f := &fallbacker{next: next, other: other, status: fc.Status, body: []byte(fc.Body), ctype: fc.ContentType, upstream: own}
	if fc.File != "" {
		name := fc.File
		if !filepath.IsAbs(name) && dir != "" {
			name = filepath.Join(dir, name)
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("file: %w", err)
		}
		f.body = b
	}
	if fc.StaleMaxAge > 0 {
		c, err := fallback.NewCache[*staleAnswer](fallback.CacheConfig{
			Key:    func(ctx context.Context) string { k, _ := ctx.Value(staleKey{}).(string); return k },
			TTL:    -1, // every good answer replaces the kept one
			MaxAge: fc.StaleMaxAge,
			Clock:  clk,
		})
		if err != nil {
			return nil, fmt.Errorf("stale_max_age: %w", err)
		}
		f.stale = c
	}
	return f, nil
}

// RoundTrip forwards req through the route's transport and falls back
// when it fails. A request the route's breaker refused (see
// [Proxy.fallbackRejected]) falls back at once.
func (f *fallbacker) RoundTrip(req *http.Request) (*http.Response, error) {
	ex := exchangeOf(req)
	var key context.Context
	if f.stale != nil && req.Method == http.MethodGet {
		key = context.WithValue(req.Context(), staleKey{}, req.Host+" "+req.URL.RequestURI())
	}
	failed := http.StatusServiceUnavailable // the breaker refused
	if ex == nil || !ex.rejected {
		resp, err := f.next.RoundTrip(req)
		if err == nil && resp.StatusCode < 500 {
			if key != nil && cacheable(req, resp) {
				resp.Body = &keepBody{ReadCloser: resp.Body, f: f, key: key, resp: resp}
			}
			return resp, nil
		}
		if req.Context().Err() != nil { // the client left or the route's time is up
			return resp, err
		}
		if err != nil {
			failed = classify(err, nil).status
		} else {
			failed = resp.StatusCode
			drain(resp.Body)
		}
		if ex != nil {
			ex.failed = failed
		}
	}
	if key != nil {
		if a, _, ok := f.stale.Get(key); ok {
			return f.answer(req, ex, http.StatusOK, a.header, a.body, ReasonFallbackStale), nil
		}
	}
	if f.other != nil && replayable(req) {
		if resp, ok := f.tryOther(req); ok {
			setReason(ex, ReasonFallbackUpstream)
			return resp, nil
		}
	}
	h := http.Header{}
	if len(f.body) > 0 {
		h.Set("Content-Type", f.ctype)
	}
	return f.answer(req, ex, f.status, h, f.body, ReasonFallbackStatic), nil
}

// tryOther sends req to the fallback upstream, past its breaker, and
// keeps the answer unless it is a 5xx.
func (f *fallbacker) tryOther(req *http.Request) (*http.Response, bool) {
	tg, permit, err := f.other.admit(req)
	if err != nil {
		return nil, false
	}
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host = tg.url.Scheme, tg.url.Host
	if req.GetBody != nil {
		if out.Body, err = req.GetBody(); err != nil {
			return nil, false
		}
	}
	tg.active.Add(1)
	resp, err := f.other.transport.RoundTrip(out)
	tg.active.Add(-1)
	status := 0
	if err != nil {
		status = classify(err, nil).status
	} else {
		status = resp.StatusCode
	}
	settle(req, f.other, tg, permit, status, false)
	if err != nil {
		return nil, false
	}
	if resp.StatusCode >= 500 {
		drain(resp.Body)
		return nil, false
	}
	return resp, true
}

// answer makes a response from a kept or fixed answer.
func (f *fallbacker) answer(req *http.Request, ex *exchange, status int, h http.Header, body []byte, reason string) *http.Response {
	setReason(ex, reason)
	h = h.Clone()
	h.Set("Content-Length", strconv.Itoa(len(body)))
	return &http.Response{
		Status: strconv.Itoa(status) + " " + http.StatusText(status), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
		Request: req,
	}
}

func setReason(ex *exchange, reason string) {
	if ex != nil {
		ex.fallback = reason
	}
}

// replayable reports whether req can be sent again: it has no body, or
// its body was kept for retries.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// cacheable reports whether a good answer may be served to others later:
// a whole 200 to a request without credentials, not marked private or
// no-store, and not too long.
func cacheable(req *http.Request, resp *http.Response) bool {
	if resp.StatusCode != http.StatusOK || resp.ContentLength > maxStaleBody {
		return false
	}
	if req.Header.Get("Authorization") != "" || req.Header.Get("Cookie") != "" || resp.Header.Get("Set-Cookie") != "" {
		return false
	}
	cc := strings.ToLower(resp.Header.Get("Cache-Control"))
	return !strings.Contains(cc, "no-store") && !strings.Contains(cc, "private")
}

// keepBody copies a good answer's body as the client reads it, and keeps
// the answer once the body has been read whole.
type keepBody struct {
	io.ReadCloser
	f    *fallbacker
	key  context.Context
	resp *http.Response
	buf  []byte
	over bool // longer than maxStaleBody: not kept
}

func (b *keepBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if !b.over {
		if len(b.buf)+n > maxStaleBody {
			b.over, b.buf = true, nil
		} else {
			b.buf = append(b.buf, p[:n]...)
		}
	}
	if err == io.EOF && !b.over {
		h := b.resp.Header.Clone()
		h.Del("Content-Length")
		b.f.stale.Put(b.key, &staleAnswer{header: h, body: b.buf})
		b.over = true // kept once
	}
	return n, err
}

var (
	_ http.RoundTripper = (*fallbacker)(nil)
)
