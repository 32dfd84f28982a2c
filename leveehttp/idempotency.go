package leveehttp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// HeaderIdempotentReplayed marks a response replayed by [Idempotency]: its
// value is "true".
const HeaderIdempotentReplayed = "Idempotent-Replayed"

// An IdempotencyStore holds one value per key for [Idempotency]: a pending
// claim while the first request with a key runs, then its stored response.
// Values are opaque bytes the middleware encodes; a store compares and
// keeps them, nothing more. [IdempotencyMemory] keeps them in the process;
// redislimit.IdempotencyStore in Redis, shared by every instance.
type IdempotencyStore interface {
	// Claim stores pending under key for lease, unless key already holds
	// a value that has not expired: then it returns that value and stores
	// nothing. A nil held value means the claim is the caller's. It must be
	// atomic: of concurrent claims of one key, one wins.
	Claim(ctx context.Context, key string, pending []byte, lease time.Duration) (held []byte, err error)
	// Settle ends the claim pending on key, if key still holds exactly
	// pending: it replaces it with done for ttl, or deletes key when done is
	// nil. A claim whose lease expired, and perhaps was claimed by another
	// request since, is left alone without error.
	Settle(ctx context.Context, key string, pending, done []byte, ttl time.Duration) error
}

// IdempotencyOptions configures [Idempotency]. The zero value acts on POST
// and PATCH requests that carry a key, keeps responses for 24 hours, holds
// a running request's key for one minute, and keys clients by their
// connection's peer address.
type IdempotencyOptions struct {
	// Required answers a request of a covered method that has no
	// Idempotency-Key with 400 Bad Request. False lets it through
	// unprotected.
	Required bool
	// Methods are the methods the middleware acts on; others pass through.
	// Nil means POST and PATCH (the methods that are not idempotent by
	// definition, PUT and DELETE being so already).
	Methods []string
	// Scope names the client a request comes from. Keys are stored per
	// scope, so a client that guesses another's key runs its own request
	// instead of reading the other's response. Nil means the connection's
	// peer address (ClientIP{}.Key); behind a proxy or with authenticated
	// clients, scope by the authenticated principal.
	Scope func(*http.Request) string
	// TTL is how long a finished request's response is kept and replayed,
	// the key's published expiry. Zero or negative means 24 hours.
	TTL time.Duration
	// Lease is how long a request that is still running holds its key; a
	// process that dies mid-request frees its keys after it. Make it longer
	// than the slowest request. Zero or negative means 1 minute.
	Lease time.Duration
	// MaxKeyLength bounds the key, in bytes. Zero or negative means
	// [DefaultMaxKeyLength] (255).
	MaxKeyLength int
	// MaxBodyBytes bounds the request body read to fingerprint the request;
	// a larger body is answered with 413. Zero or negative means 1 MiB.
	MaxBodyBytes int64
	// MaxResponseBytes bounds a stored response's body. A larger response
	// is sent but not stored, and its key is freed, so a retry runs again.
	// Zero or negative means 1 MiB.
	MaxResponseBytes int
	// FailOpen runs a request unprotected when the store cannot be reached
	// to claim its key. False answers it with 503 Service Unavailable.
	FailOpen bool
}

const (
	defaultIdemTTL       = 24 * time.Hour
	defaultIdemLease     = time.Minute
	defaultIdemMaxBody   = 1 << 20
	defaultIdemMaxStored = 1 << 20
)

// idempotency is an [Idempotency] middleware's settings, defaults applied.
type idempotency struct {
	store     IdempotencyStore
	opts      IdempotencyOptions
	methods   []string
	scope     func(*http.Request) string
	ttl       time.Duration
	lease     time.Duration
	maxBody   int64
	maxStored int
}

// Idempotency returns middleware that makes retried requests safe, with
// the semantics of the IETF draft draft-ietf-httpapi-idempotency-key-header:
//   - the first request with a key runs, and its response (status, header
//     fields, body) is stored for opts.TTL;
//   - a request with the same key after that one finished gets the stored
//     response replayed, marked with Idempotent-Replayed: true, and does
//     not reach the handler;
//   - a request with the same key while the first is still running gets
//     409 Conflict;
//   - a request with the same key but another fingerprint (method, path
//     with query, body) gets 422 Unprocessable Content;
//   - a covered request without a key gets 400 when opts.Required is set,
//     as does a malformed or repeated key.
//
// Keys are held per client ([IdempotencyOptions.Scope]). Answers that ask
// to be retried are not stored, so a retry runs again: 5xx, 408, 409, 425
// and 429, a response larger than MaxResponseBytes, a handler that panics
// (the panic goes on) or hijacks the connection. Refusals are RFC 9457
// problem documents.
//
// Idempotency reads the request body (up to MaxBodyBytes) and passes a copy
// on, and keeps a copy of the response while it is written: it allocates
// per request, so put it on the routes that need it.
func Idempotency(store IdempotencyStore, opts IdempotencyOptions) func(http.Handler) http.Handler {
	m := &idempotency{store: store, opts: opts, methods: opts.Methods, scope: opts.Scope,
		ttl: opts.TTL, lease: opts.Lease, maxBody: opts.MaxBodyBytes, maxStored: opts.MaxResponseBytes}
	if m.methods == nil {
		m.methods = []string{http.MethodPost, http.MethodPatch}
	}
	if m.scope == nil {
		m.scope = ClientIP{}.Key
	}
	if m.ttl <= 0 {
		m.ttl = defaultIdemTTL
	}
	if m.lease <= 0 {
		m.lease = defaultIdemLease
	}
	if m.maxBody <= 0 {
		m.maxBody = defaultIdemMaxBody
	}
	if m.maxStored <= 0 {
		m.maxStored = defaultIdemMaxStored
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.serve(w, r, next) })
	}
}

func (m *idempotency) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if !slices.Contains(m.methods, r.Method) {
		next.ServeHTTP(w, r)
		return
	}
	key, err := idempotencyKeyOf(r, m.opts.MaxKeyLength)
	switch {
	case err != nil:
		writeStatus(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "leveehttp: "), true)
		return
	case key == "" && m.opts.Required:
		writeStatus(w, http.StatusBadRequest, "Idempotency-Key required", true)
		return
	case key == "":
		next.ServeHTTP(w, r)
		return
	}
	fp, ok := m.fingerprint(w, r)
	if !ok {
		return
	}
	skey := storeKey(m.scope(r), key)
	pending := encodePending(fp)
	held, err := m.store.Claim(r.Context(), skey, pending, m.lease)
	if err != nil {
		if m.opts.FailOpen {
			next.ServeHTTP(w, r)
			return
		}
		writeStatus(w, http.StatusServiceUnavailable, "idempotency store unavailable", true)
		return
	}
	if held != nil {
		m.answerHeld(w, held, fp)
		return
	}
	m.run(w, r, next, skey, fp, pending)
}

// fingerprint reads r's body, bounded, puts a copy back for the handler and
// returns the request's fingerprint. It answers the request itself (413,
// 400) and returns false when the body cannot be read.
func (m *idempotency) fingerprint(w http.ResponseWriter, r *http.Request) ([fpSize]byte, bool) {
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(r.Body, m.maxBody+1))
		_ = r.Body.Close()
		switch {
		case err != nil:
			writeStatus(w, http.StatusBadRequest, "request body could not be read", true)
			return [fpSize]byte{}, false
		case int64(len(b)) > m.maxBody:
			writeStatus(w, http.StatusRequestEntityTooLarge, "request body too large for an idempotent request", true)
			return [fpSize]byte{}, false
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	h := sha256.New()
	_, _ = io.WriteString(h, r.Method)
	h.Write([]byte{0})
	_, _ = io.WriteString(h, r.URL.EscapedPath())
	h.Write([]byte{'?'})
	_, _ = io.WriteString(h, r.URL.RawQuery)
	h.Write([]byte{0})
	h.Write(body)
	var fp [fpSize]byte
	h.Sum(fp[:0])
	return fp, true
}

// storeKey is the store's key for a client's key: a hash, so that neither
// the scope (which may be a credential) nor the key reaches the store, and
// every key has one short length.
func storeKey(scope, key string) string {
	h := sha256.New()
	_, _ = io.WriteString(h, scope)
	h.Write([]byte{0})
	_, _ = io.WriteString(h, key)
	return hex.EncodeToString(h.Sum(nil))
}

// answerHeld answers a request whose key another request holds: 422 for
// another fingerprint, 409 while that request runs, else its response.
func (m *idempotency) answerHeld(w http.ResponseWriter, held []byte, fp [fpSize]byte) {
	rec, err := decodeRecord(held)
	switch {
	case err != nil:
		writeStatus(w, http.StatusServiceUnavailable, "idempotency store unavailable", true)
	case rec.fp != fp:
		writeStatus(w, http.StatusUnprocessableEntity, "Idempotency-Key already used for another request", true)
	case !rec.done:
		writeStatus(w, http.StatusConflict, "a request with this Idempotency-Key is still being processed", true)
	default:
		h := w.Header()
		for k, vs := range rec.header {
			h[k] = vs
		}
		h.Set(HeaderIdempotentReplayed, "true")
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body)
	}
}

// run serves the request that claimed its key and settles the claim with
// its response, or frees the key when the response is not to be kept.
func (m *idempotency) run(w http.ResponseWriter, r *http.Request, next http.Handler, skey string, fp [fpSize]byte, pending []byte) {
	rec := &recordingWriter{w: w, max: m.maxStored}
	// The client may be gone by the time the handler returns; the claim
	// must be settled all the same.
	ctx := context.WithoutCancel(r.Context())
	returned := false
	defer func() {
		if !returned {
			_ = m.store.Settle(ctx, skey, pending, nil, 0)
		}
	}()
	next.ServeHTTP(rec, r)
	returned = true
	var done []byte
	if rec.finish() {
		done = encodeDone(fp, rec.status, rec.header, rec.body.Bytes())
	}
	_ = m.store.Settle(ctx, skey, pending, done, m.ttl)
}

// retryable are the statuses that ask the client to try again: storing them
// would replay the refusal to the retry.
func retryable(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return status >= 500
}

// recordingWriter passes a response on while keeping a copy of its status,
// header fields (as they were when the header went out) and body, up to max
// body bytes.
type recordingWriter struct {
	w        http.ResponseWriter
	max      int
	status   int
	header   http.Header
	body     bytes.Buffer
	overflow bool
}

func (rw *recordingWriter) Header() http.Header { return rw.w.Header() }

func (rw *recordingWriter) WriteHeader(code int) {
	if rw.status == 0 && code >= 200 {
		rw.status = code
	}
	rw.w.WriteHeader(code)
}

// capture records the header fields when the body starts, not at
// WriteHeader: routers whose writers send the header lazily (gin's) let
// handlers set fields after WriteHeader, and those go out.
func (rw *recordingWriter) capture() {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	if rw.header == nil {
		rw.header = rw.w.Header().Clone()
		if rw.header == nil {
			rw.header = http.Header{}
		}
		for _, k := range unstoredFields {
			delete(rw.header, k)
		}
	}
}

func (rw *recordingWriter) Write(p []byte) (int, error) {
	rw.capture()
	if !rw.overflow {
		if rw.body.Len()+len(p) > rw.max {
			rw.overflow = true
			rw.body = bytes.Buffer{}
		} else {
			rw.body.Write(p)
		}
	}
	return rw.w.Write(p)
}

// Flush implements http.Flusher when the underlying writer does.
func (rw *recordingWriter) Flush() {
	rw.capture()
	if f, ok := rw.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap returns the wrapped writer, for http.ResponseController (and
// through it Hijack, deadlines) and for Levee's refusal marks.
func (rw *recordingWriter) Unwrap() http.ResponseWriter { return rw.w }

// finish ends the recording once the handler returned and reports whether
// the response may be replayed: complete, kept whole, and not an answer
// that asks to be retried. A handler that took the connection over
// (Hijack through http.ResponseController) wrote nothing this writer saw:
// its response is unknown, and a zero-length write says so with
// http.ErrHijacked.
func (rw *recordingWriter) finish() bool {
	if _, err := rw.w.Write(nil); errors.Is(err, http.ErrHijacked) {
		return false
	}
	rw.capture()
	return !rw.overflow && !retryable(rw.status)
}

// unstoredFields are not replayed: the date of the first response, and
// fields about the connection it went out on.
var unstoredFields = []string{"Date", "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Trailer"}

var (
	_ http.Flusher     = (*recordingWriter)(nil)
	_ IdempotencyStore = (*IdempotencyMemory)(nil)
)
