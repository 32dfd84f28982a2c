package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/proxy"
)

// maxJSON caps a JSON request body, in bytes.
const maxJSON = 64 << 10

// call is one request in flight: who sent it and what the audit log will
// say of it.
type call struct {
	who    string
	body   string // the audit summary of the body
	status int
	result string
}

// guard authenticates a request, runs the endpoint, and records a change
// in the audit log with the configuration hash around it.
func (h *Handler) guard(e endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, status, detail := h.auth.identify(r)
		if status != 0 {
			refuse(w, status, detail)
			return
		}
		c := &call{who: who}
		if e.action == "" {
			e.serve(w, r, c)
			return
		}
		before := h.hash()
		rw := &recorder{ResponseWriter: w}
		e.serve(rw, r, c)
		if c.status == 0 {
			c.status = rw.status
		}
		if c.result == "" {
			c.result = "ok"
		}
		h.audit.record(AuditRecord{
			Time: h.clk.Now().UTC(), Who: who, Remote: r.RemoteAddr, Method: r.Method, Path: r.URL.Path,
			Action: e.action, Body: c.body, Before: before, After: h.hash(), Status: c.status, Result: c.result,
		})
	})
}

// recorder remembers the status written through it.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// hash is the running configuration's, or "" without a controller.
func (h *Handler) hash() string {
	if h.opts.Controller == nil {
		return ""
	}
	return h.opts.Controller.Current().Hash
}

// runtime returns the current Proxy, or answers 501 and returns nil.
func (h *Handler) runtime(w http.ResponseWriter, c *call) *proxy.Proxy {
	var p *proxy.Proxy
	switch {
	case h.opts.Controller != nil:
		p = h.opts.Controller.Proxy()
	case h.opts.Proxy != nil:
		p = h.opts.Proxy()
	}
	if p == nil {
		c.fail(w, http.StatusNotImplemented, "no runtime is served here")
	}
	return p
}

// controller returns the controller, or answers 501 and returns nil.
func (h *Handler) controller(w http.ResponseWriter, c *call) Controller {
	if h.opts.Controller == nil {
		c.fail(w, http.StatusNotImplemented, ErrNoController.Error()+": this gateway cannot change its configuration at run time")
	}
	return h.opts.Controller
}

// fail answers a problem and notes it for the audit log.
func (c *call) fail(w http.ResponseWriter, status int, detail string) {
	c.status, c.result = status, detail
	writeProblem(w, status, detail)
}

// failErr answers the error of a controller or action with its status.
func (c *call) failErr(w http.ResponseWriter, err error) {
	var probs config.Problems
	switch {
	case errors.As(err, &probs):
		c.status, c.result = http.StatusUnprocessableEntity, err.Error()
		writeProblems(w, probs)
		return
	case errors.Is(err, ErrStale):
		c.fail(w, http.StatusPreconditionFailed, err.Error())
	case errors.Is(err, ErrBadVersion), errors.Is(err, ErrBusy), errors.Is(err, ErrNoSource), errors.Is(err, proxy.ErrUnsupported):
		c.fail(w, http.StatusConflict, err.Error())
	case errors.Is(err, ErrNoVersion), errors.Is(err, proxy.ErrNotFound):
		c.fail(w, http.StatusNotFound, err.Error())
	case errors.Is(err, proxy.ErrInvalid):
		c.fail(w, http.StatusUnprocessableEntity, err.Error())
	case errors.Is(err, ErrNoController):
		c.fail(w, http.StatusNotImplemented, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		c.fail(w, http.StatusServiceUnavailable, err.Error())
	default:
		c.fail(w, http.StatusInternalServerError, err.Error())
	}
}

// decode reads r's body, at most maxJSON bytes, as exactly one JSON value
// into v, refusing unknown fields; it answers 400 or 413 and returns false
// when it cannot.
func decode(w http.ResponseWriter, r *http.Request, c *call, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSON))
	if err != nil {
		c.body = fmt.Sprintf("(unread: %v)", err)
		c.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is longer than %d bytes", maxJSON))
		return false
	}
	c.body = summary(body)
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		c.fail(w, http.StatusBadRequest, "the body is not the JSON expected: "+err.Error())
		return false
	}
	if dec.More() {
		c.fail(w, http.StatusBadRequest, "the body holds more than one JSON value")
		return false
	}
	return true
}

// summary is a JSON body as the audit log keeps it: cut at 512 bytes.
func summary(b []byte) string {
	const max = 512
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // compact: indenting doubles the cost of a large state

}

// problem is an RFC 9457 problem details object.
type problem struct {
	Type     string        `json:"type"`
	Title    string        `json:"title"`
	Status   int           `json:"status"`
	Detail   string        `json:"detail,omitempty"`
	Problems []problemItem `json:"problems,omitempty"`
}

// problemItem is one configuration problem of a 422 answer.
type problemItem struct {
	Path    string `json:"path"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

func writeProblem(w http.ResponseWriter, status int, detail string) {
	writeProblemBody(w, problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail})
}

func writeProblems(w http.ResponseWriter, ps config.Problems) {
	p := problem{Type: "about:blank", Title: http.StatusText(http.StatusUnprocessableEntity), Status: http.StatusUnprocessableEntity,
		Detail: fmt.Sprintf("the configuration has %d problem(s)", len(ps)), Problems: make([]problemItem, len(ps))}
	for i, x := range ps {
		p.Problems[i] = problemItem{Path: x.Path, Line: x.Line, Column: x.Column, Message: x.Message}
	}
	writeProblemBody(w, p)
}

func writeProblemBody(w http.ResponseWriter, p problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// etag quotes a hash as an entity tag.
func etag(hash string) string { return `"` + hash + `"` }

// ifMatch returns the hash an If-Match field names: its one entity tag,
// quotes (and a weak W/ prefix) removed.
func ifMatch(v string) string {
	v = strings.TrimSpace(v)
	v = strings.TrimPrefix(v, "W/")
	return strings.Trim(v, `"`)
}

// --- configuration ---

func (h *Handler) getConfig(w http.ResponseWriter, r *http.Request, c *call) {
	ctl := h.controller(w, c)
	if ctl == nil {
		return
	}
	v := ctl.Current()
	w.Header().Set("ETag", etag(v.Hash))
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Levee-Config-Version", strconv.Itoa(v.Version))
	w.Write(v.Raw)
}

func (h *Handler) putConfig(w http.ResponseWriter, r *http.Request, c *call) {
	ctl := h.controller(w, c)
	if ctl == nil {
		return
	}
	match := r.Header.Get("If-Match")
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBody))
	if err != nil {
		c.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the configuration is longer than %d bytes", h.opts.MaxBody))
		return
	}
	sum := sha256.Sum256(body)
	c.body = fmt.Sprintf("yaml, %d bytes, sha256 %s", len(body), hex.EncodeToString(sum[:8]))
	if match == "" {
		c.fail(w, http.StatusPreconditionRequired, `If-Match is required: send the ETag of GET /api/v1/config, or "*" to replace any version`)
		return
	}
	tag := ifMatch(match)
	if tag == "*" {
		tag = ""
	}
	force := r.URL.Query().Get("force") == "true"
	rep, err := ctl.Apply(r.Context(), body, ApplyOptions{Source: "admin", IfMatch: tag, Force: force})
	if err != nil {
		c.failErr(w, err)
		return
	}
	w.Header().Set("ETag", etag(rep.Hash))
	writeJSON(w, http.StatusOK, rep)
}

func (h *Handler) getHistory(w http.ResponseWriter, r *http.Request, c *call) {
	if ctl := h.controller(w, c); ctl != nil {
		hist := ctl.History()
		if hist == nil {
			hist = []Version{}
		}
		writeJSON(w, http.StatusOK, hist)
	}
}

// RollbackRequest is the body of POST /api/v1/config/rollback.
type RollbackRequest struct {
	Version int  `json:"version"`
	Force   bool `json:"force"`
}

func (h *Handler) postRollback(w http.ResponseWriter, r *http.Request, c *call) {
	var req RollbackRequest
	if !decode(w, r, c, &req) {
		return
	}
	if req.Version < 1 {
		c.fail(w, http.StatusUnprocessableEntity, "version: must be ≥ 1")
		return
	}
	ctl := h.controller(w, c)
	if ctl == nil {
		return
	}
	rep, err := ctl.Rollback(r.Context(), req.Version, req.Force)
	if err != nil {
		c.failErr(w, err)
		return
	}
	w.Header().Set("ETag", etag(rep.Hash))
	writeJSON(w, http.StatusOK, rep)
}

func (h *Handler) postReload(w http.ResponseWriter, r *http.Request, c *call) {
	ctl := h.controller(w, c)
	if ctl == nil {
		return
	}
	rep, err := ctl.Reload(r.Context())
	if err != nil {
		c.failErr(w, err)
		return
	}
	w.Header().Set("ETag", etag(rep.Hash))
	writeJSON(w, http.StatusOK, rep)
}

func (h *Handler) getReload(w http.ResponseWriter, r *http.Request, c *call) {
	if ctl := h.controller(w, c); ctl != nil {
		writeJSON(w, http.StatusOK, ctl.Status())
	}
}

// --- live state and actions ---

// StateResponse is the body of GET /api/v1/state: the runtime's state and
// the configuration version it serves (0 and "" without a controller).
type StateResponse struct {
	Version int    `json:"version"`
	Hash    string `json:"hash"`
	proxy.State
}

func (h *Handler) getState(w http.ResponseWriter, r *http.Request, c *call) {
	p := h.runtime(w, c)
	if p == nil {
		return
	}
	var resp StateResponse
	if h.opts.Controller != nil {
		v := h.opts.Controller.Current()
		resp.Version, resp.Hash = v.Version, v.Hash
	}
	resp.State = p.State()
	writeJSON(w, http.StatusOK, &resp)
}

// BreakerRequest is the body of the breaker endpoints.
type BreakerRequest struct {
	// Mode is auto, open, closed or disabled.
	Mode string `json:"mode"`
}

func (h *Handler) putBreaker(w http.ResponseWriter, r *http.Request, c *call) {
	var req BreakerRequest
	if !decode(w, r, c, &req) {
		return
	}
	mode, err := proxy.ParseBreakerMode(req.Mode)
	if err != nil {
		c.failErr(w, err)
		return
	}
	if p := h.runtime(w, c); p != nil {
		h.done(w, c, p.SetBreakerMode(r.PathValue("upstream"), r.PathValue("target"), mode))
	}
}

func (h *Handler) drain(w http.ResponseWriter, r *http.Request, c *call) {
	if p := h.runtime(w, c); p != nil {
		h.done(w, c, p.Drain(r.PathValue("upstream"), r.PathValue("target"), r.Method == http.MethodPost))
	}
}

// RateLimitRequest is the body of PUT /api/v1/routes/{route}/rate_limit.
type RateLimitRequest struct {
	// Rate is written as in the configuration: "100/s", "5/250ms".
	Rate string `json:"rate"`
	// Burst is the bucket's capacity in requests; 0 means the rate's
	// count.
	Burst int `json:"burst"`
}

func (h *Handler) putRateLimit(w http.ResponseWriter, r *http.Request, c *call) {
	var req RateLimitRequest
	if !decode(w, r, c, &req) {
		return
	}
	rate, err := config.ParseRate(req.Rate)
	if err != nil {
		c.fail(w, http.StatusUnprocessableEntity, "rate: "+err.Error())
		return
	}
	if p := h.runtime(w, c); p != nil {
		h.done(w, c, p.SetRateLimit(r.PathValue("route"), rate, req.Burst))
	}
}

// ConcurrencyRequest is the body of PUT /api/v1/routes/{route}/concurrency.
type ConcurrencyRequest struct {
	// Limit is the requests in flight allowed, ≥ 1.
	Limit int `json:"limit"`
}

func (h *Handler) putConcurrency(w http.ResponseWriter, r *http.Request, c *call) {
	var req ConcurrencyRequest
	if !decode(w, r, c, &req) {
		return
	}
	if p := h.runtime(w, c); p != nil {
		h.done(w, c, p.SetConcurrency(r.PathValue("route"), req.Limit))
	}
}

// FaultRequest is the body of PUT /api/v1/routes/{route}/fault, written
// as the route's policies.fault is.
type FaultRequest struct {
	Delay *struct {
		Duration string `json:"duration"`
		Percent  string `json:"percent"`
	} `json:"delay"`
	Abort *struct {
		Status  int    `json:"status"`
		Percent string `json:"percent"`
	} `json:"abort"`
	Header string `json:"header"`
}

// fault converts the request into the configuration's form.
func (f FaultRequest) fault() (config.Fault, error) {
	out := config.Fault{Header: f.Header}
	if d := f.Delay; d != nil {
		dur, err := config.ParseDuration(d.Duration)
		if err != nil {
			return out, fmt.Errorf("delay.duration: %w", err)
		}
		pct, err := config.ParsePercent(d.Percent)
		if err != nil {
			return out, fmt.Errorf("delay.percent: %w", err)
		}
		out.Delay = &config.FaultDelay{Duration: dur, Percent: pct}
	}
	if a := f.Abort; a != nil {
		pct, err := config.ParsePercent(a.Percent)
		if err != nil {
			return out, fmt.Errorf("abort.percent: %w", err)
		}
		out.Abort = &config.FaultAbort{Status: a.Status, Percent: pct}
	}
	return out, nil
}

func (h *Handler) putFault(w http.ResponseWriter, r *http.Request, c *call) {
	var req FaultRequest
	if !decode(w, r, c, &req) {
		return
	}
	f, err := req.fault()
	if err != nil {
		c.fail(w, http.StatusUnprocessableEntity, "fault."+err.Error())
		return
	}
	if p := h.runtime(w, c); p != nil {
		h.done(w, c, p.SetFault(r.PathValue("route"), f))
	}
}

func (h *Handler) deleteFault(w http.ResponseWriter, r *http.Request, c *call) {
	if p := h.runtime(w, c); p != nil {
		h.done(w, c, p.StopFault(r.PathValue("route")))
	}
}

// done answers an action: its error, or 204.
func (h *Handler) done(w http.ResponseWriter, c *call, err error) {
	if err != nil {
		c.failErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) getAudit(w http.ResponseWriter, r *http.Request, c *call) {
	n := 0
	if s := r.URL.Query().Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			c.fail(w, http.StatusBadRequest, "limit: must be a positive integer")
			return
		}
		n = v
	}
	writeJSON(w, http.StatusOK, h.audit.recent(n))
}
