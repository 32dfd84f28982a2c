package leveehttp

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/levee-go/levee"
)

// StatusFor maps an error from a policy to the status a server answers
// with: [levee.StatusOf]'s answer as an HTTP status. A [levee.Fault] in the
// chain (an injected fault) gets its own status; rate limits get 429, other
// rejections (open breakers, shedding, full bulkheads, exhausted budgets)
// 503, time limits and deadlines 504, a cancelled caller 499, anything else
// 500.
func StatusFor(err error) int {
	if err == nil {
		return http.StatusInternalServerError
	}
	return levee.StatusOf(err).HTTPStatus()
}

// RetryAfterSeconds formats a wait as Retry-After delta-seconds: rounded up
// ([levee.WaitUnits]), and never 0 while any wait is due; a negative wait is
// "0". It returns "" for [levee.Never], which no Retry-After expresses.
func RetryAfterSeconds(d time.Duration) string {
	n, ok := levee.WaitUnits(max(d, 0), time.Second)
	if !ok {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

// WriteRejection answers a request refused by a policy: the status of
// [StatusFor], Retry-After when the rejection knows its wait, and a short
// body, plain text or, with problemJSON, an RFC 9457 problem document.
func WriteRejection(w http.ResponseWriter, err error, problemJSON bool) {
	status := StatusFor(err)
	if wait, ok := levee.RetryAfter(err); ok {
		if v := RetryAfterSeconds(wait); v != "" {
			w.Header().Set("Retry-After", v)
		}
	}
	writeStatus(w, status, err.Error(), problemJSON)
}

// writeStatus writes a short error response: plain text, or an RFC 9457
// problem document whose detail is detail.
func writeStatus(w http.ResponseWriter, status int, detail string, problemJSON bool) {
	if !problemJSON {
		http.Error(w, http.StatusText(status), status)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail})
}

type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}
