package admin

import (
	_ "embed"
	"log/slog"
	"net/http"
	"net/http/pprof"

	"github.com/levee-go/levee/clock"
	"github.com/levee-go/levee/gateway/proxy"
)

// openAPI is the OpenAPI 3.1 document of the API, served at /openapi.json.
//
//go:embed openapi.json
var openAPI []byte

// Options configure [New]. The zero value serves an API without probes,
// metrics, configuration control or runtime, on loopback only.
type Options struct {
	// Auth is the token and client certificates required; the zero Auth
	// lets everyone in (check the address with [Auth.CheckAddress]).
	Auth Auth
	// Controller drives the configuration endpoints and gives the runtime
	// for state and actions. Nil means the configuration endpoints answer
	// 501 and the runtime is Proxy's.
	Controller Controller
	// Proxy returns the runtime when Controller is nil. Nil (with a nil
	// Controller) means state and actions answer 501.
	Proxy func() *proxy.Proxy
	// Probes serves /livez, /readyz and /startupz, which need no
	// credentials. Nil means they answer 404.
	Probes http.Handler
	// Metrics serves /metrics. It needs credentials when Auth requires
	// them, so that scrapers need none only on an API without any. Nil
	// means 404.
	Metrics http.Handler
	// Audit receives one record per change (see [AuditRecord]); nil means
	// [slog.Default]. [OpenAuditLog] opens admin.audit_log.
	Audit *slog.Logger
	// AuditKeep is how many records GET /api/v1/audit can return. Zero
	// means 1000.
	AuditKeep int
	// MaxBody caps a request body, in bytes: a configuration for PUT
	// /api/v1/config; JSON bodies are capped at 64 KiB. Zero means 8 MiB.
	MaxBody int64
	// Clock stamps audit records. Nil means [clock.Real].
	Clock clock.Clock
}

// Handler is the admin API. It is safe for concurrent use; register
// further endpoints with [Handler.Handle] before serving.
type Handler struct {
	opts  Options
	mux   *http.ServeMux
	auth  *authenticator
	audit *audit
	clk   clock.Clock
}

// New returns the admin API configured by opts.
func New(opts Options) *Handler {
	if opts.MaxBody <= 0 {
		opts.MaxBody = 8 << 20
	}
	if opts.Audit == nil {
		opts.Audit = slog.Default()
	}
	h := &Handler{opts: opts, mux: http.NewServeMux(), auth: newAuthenticator(opts.Auth),
		audit: newAudit(opts.Audit, opts.AuditKeep), clk: clock.Or(opts.Clock)}
	for _, p := range [...]string{"/livez", "/readyz", "/startupz"} {
		h.mux.HandleFunc(p, h.probe)
		h.mux.HandleFunc(p+"/", h.probe)
	}
	for _, e := range h.endpoints() {
		h.mux.Handle(e.method+" "+e.pattern, h.guard(e))
	}
	return h
}

// endpoint is one route of the API: its pattern, the action recorded in
// the audit log for a change (empty for a read), and its handler.
type endpoint struct {
	method, pattern string
	action          string // "" for reads, which are not audited
	serve           func(w http.ResponseWriter, r *http.Request, c *call)
}

func (h *Handler) endpoints() []endpoint {
	return []endpoint{
		{"GET", "/openapi.json", "", h.getOpenAPI},
		{"GET", "/api/v1/config", "", h.getConfig},
		{"PUT", "/api/v1/config", "config.put", h.putConfig},
		{"GET", "/api/v1/config/history", "", h.getHistory},
		{"POST", "/api/v1/config/rollback", "config.rollback", h.postRollback},
		{"POST", "/api/v1/reload", "config.reload", h.postReload},
		{"GET", "/api/v1/reload", "", h.getReload},
		{"GET", "/api/v1/state", "", h.getState},
		{"PUT", "/api/v1/upstreams/{upstream}/breaker", "breaker.set", h.putBreaker},
		{"PUT", "/api/v1/upstreams/{upstream}/targets/{target}/breaker", "breaker.set", h.putBreaker},
		{"POST", "/api/v1/upstreams/{upstream}/targets/{target}/drain", "target.drain", h.drain},
		{"DELETE", "/api/v1/upstreams/{upstream}/targets/{target}/drain", "target.undrain", h.drain},
		{"PUT", "/api/v1/routes/{route}/rate_limit", "rate_limit.set", h.putRateLimit},
		{"PUT", "/api/v1/routes/{route}/concurrency", "concurrency.set", h.putConcurrency},
		{"PUT", "/api/v1/routes/{route}/fault", "fault.set", h.putFault},
		{"DELETE", "/api/v1/routes/{route}/fault", "fault.stop", h.deleteFault},
		{"GET", "/api/v1/audit", "", h.getAudit},
		{"GET", "/metrics", "", h.metrics},
		{"GET", "/debug/pprof/", "", wrap(pprof.Index)},
		{"GET", "/debug/pprof/cmdline", "", wrap(pprof.Cmdline)},
		{"GET", "/debug/pprof/profile", "", wrap(pprof.Profile)},
		{"GET", "/debug/pprof/symbol", "", wrap(pprof.Symbol)},
		{"POST", "/debug/pprof/symbol", "", wrap(pprof.Symbol)},
		{"GET", "/debug/pprof/trace", "", wrap(pprof.Trace)},
	}
}

func wrap(f http.HandlerFunc) func(http.ResponseWriter, *http.Request, *call) {
	return func(w http.ResponseWriter, r *http.Request, _ *call) { f(w, r) }
}

// Handle registers handler for pattern (as [http.ServeMux] takes it, such
// as "GET /dashboard/") behind the API's authentication, for endpoints
// served beside it: the dashboard and its event stream. Requests to them
// are not audited. Call it before serving.
func (h *Handler) Handle(pattern string, handler http.Handler) {
	h.mux.Handle(pattern, h.authOnly(handler))
}

// ServeHTTP serves the API.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) probe(w http.ResponseWriter, r *http.Request) {
	if h.opts.Probes == nil {
		writeProblem(w, http.StatusNotFound, "no health probes are served here")
		return
	}
	h.opts.Probes.ServeHTTP(w, r)
}

func (h *Handler) metrics(w http.ResponseWriter, r *http.Request, _ *call) {
	if h.opts.Metrics == nil {
		writeProblem(w, http.StatusNotFound, "no metrics are served here")
		return
	}
	h.opts.Metrics.ServeHTTP(w, r)
}

func (h *Handler) getOpenAPI(w http.ResponseWriter, r *http.Request, _ *call) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}

// authOnly lets authenticated requests through to next.
func (h *Handler) authOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, status, detail := h.auth.identify(r); status != 0 {
			refuse(w, status, detail)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func refuse(w http.ResponseWriter, status int, detail string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="levee-admin"`)
		w.Header().Add("WWW-Authenticate", `Basic realm="levee-admin", charset="UTF-8"`) // browsers: the token as password
	}
	writeProblem(w, status, detail)
}

var _ http.Handler = (*Handler)(nil)
