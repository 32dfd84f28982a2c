package health

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Mux is the part of [http.ServeMux] that [Health.Register] needs; most
// routers have a method of this shape.
type Mux interface {
	Handle(pattern string, handler http.Handler)
}

// Register mounts the probe endpoints on mux: /livez, /readyz, /startupz
// and, under each, /NAME for a single check.
func (h *Health) Register(mux Mux) {
	hd := h.Handler()
	for _, p := range [...]string{"/livez", "/readyz", "/startupz"} {
		mux.Handle(p, hd)
		mux.Handle(p+"/", hd)
	}
}

// Handler returns a handler that serves the probe endpoints with
// kube-apiserver's semantics. It routes on the last path elements, so it
// can be mounted at the root or under a prefix (with [http.StripPrefix] or
// without):
//
//	GET /readyz                  200 "ok", or 500 with the per-check listing
//	GET /readyz?verbose          the listing ("[+]db ok", "[-]db failed: reason")
//	                             then "readyz check passed" (or failed)
//	GET /readyz?exclude=db       as above with db not run and not counted
//	GET /readyz/db               "ok", or 500 "internal server error: reason"
//	Accept: application/json     the [Report] (or the single [Result]) as JSON
//
// Degraded (non-critical) failures answer 200 and are listed with their
// reason and "(non-critical)". An unknown path answers 404.
func (h *Health) Handler() http.Handler { return http.HandlerFunc(h.serve) }

func (h *Health) serve(w http.ResponseWriter, r *http.Request) {
	p, name, ok := route(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	asJSON := wantsJSON(r)
	w.Header().Set("Cache-Control", "no-store")
	if name != "" {
		res, found := h.CheckOne(r.Context(), p, name)
		if !found {
			http.Error(w, fmt.Sprintf("health: no %s check named %q", p, name), http.StatusNotFound)
			return
		}
		if h.cfg.WithholdReasons && res.Error != "" {
			res.Error = "reason withheld"
		}
		code := http.StatusOK
		if res.Status == StatusFailed {
			code = http.StatusInternalServerError
		}
		if asJSON {
			writeJSON(w, code, res)
			return
		}
		if res.Status == StatusFailed {
			http.Error(w, "internal server error: "+res.Error, code)
			return
		}
		writeText(w, code, "ok")
		return
	}

	rep := h.Check(r.Context(), p, q["exclude"]...)
	if h.cfg.WithholdReasons {
		for i := range rep.Checks {
			if rep.Checks[i].Error != "" {
				rep.Checks[i].Error = "reason withheld"
			}
		}
	}
	code := http.StatusOK
	if !rep.OK() {
		code = http.StatusInternalServerError
	}
	if asJSON {
		writeJSON(w, code, rep)
		return
	}
	_, verbose := q["verbose"]
	if rep.OK() && !verbose {
		writeText(w, code, "ok")
		return
	}
	var b bytes.Buffer
	writeListing(&b, rep)
	if rep.OK() {
		fmt.Fprintf(&b, "%s check passed\n", rep.Probe)
		writeText(w, code, b.String())
		return
	}
	// Always verbose on failure, like kube-apiserver.
	fmt.Fprintf(&b, "%s check failed", rep.Probe)
	http.Error(w, b.String(), code)
}

// writeListing writes kube-apiserver's per-check lines.
func writeListing(b *bytes.Buffer, rep Report) {
	for _, c := range rep.Checks {
		switch c.Status {
		case StatusOK:
			fmt.Fprintf(b, "[+]%s ok\n", c.Name)
		case StatusExcluded:
			fmt.Fprintf(b, "[+]%s excluded: ok\n", c.Name)
		case StatusDegraded:
			fmt.Fprintf(b, "[-]%s failed: %s (non-critical)\n", c.Name, oneLine(c.Error))
		default:
			fmt.Fprintf(b, "[-]%s failed: %s\n", c.Name, oneLine(c.Error))
		}
	}
	if len(rep.Warnings) > 0 {
		q := make([]string, len(rep.Warnings))
		for i, n := range rep.Warnings {
			q[i] = fmt.Sprintf("%q", n)
		}
		fmt.Fprintf(b, "warn: some health checks cannot be excluded: no matches for %s\n", strings.Join(q, ","))
	}
}

// oneLine keeps a multi-line error from breaking the line-per-check format.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// route splits a path into its probe and optional check name. The first
// element naming a probe decides, so any prefix before it is ignored and a
// check name may itself contain a probe word ("/readyz/db/livez").
func route(path string) (p Probe, name string, ok bool) {
	path = strings.TrimSuffix(path, "/")
	at := -1
	var seg string
	for _, e := range [...]struct {
		seg string
		p   Probe
	}{{"livez", Liveness}, {"readyz", Readiness}, {"startupz", Startup}} {
		if i := firstSegment(path, e.seg); i >= 0 && (at < 0 || i < at) {
			at, seg, p = i, e.seg, e.p
		}
	}
	if at < 0 {
		return 0, "", false
	}
	rest := path[at+len(seg):]
	if rest == "" {
		return p, "", true
	}
	return p, rest[1:], true
}

// firstSegment returns the index just past the first "/" that begins a
// whole path element equal to seg, or -1.
func firstSegment(path, seg string) int {
	for off := 0; off < len(path); {
		j := strings.Index(path[off:], "/"+seg)
		if j < 0 {
			return -1
		}
		k := off + j + 1
		end := k + len(seg)
		if end == len(path) || path[end] == '/' {
			return k
		}
		off = end
	}
	return -1
}

func wantsJSON(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(v, "application/json") {
			return true
		}
	}
	return false
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprint(w, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(body, '\n'))
}
