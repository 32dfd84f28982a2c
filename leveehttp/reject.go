package leveehttp

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/levee-go/levee"
)

// StatusFor maps an error from a policy to the status a server answers with:
// 429 for rate limits, 503 for open breakers, shedding, full bulkheads and
// exhausted budgets, 504 for time limits, 500 for anything else.
func StatusFor(err error) int {
	switch {
	case errors.Is(err, levee.ErrLimited):
		return http.StatusTooManyRequests
	case errors.Is(err, levee.ErrRejected):
		return http.StatusServiceUnavailable
	case errors.Is(err, levee.ErrTimeout):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// RetryAfterSeconds formats a wait as Retry-After delta-seconds: rounded up,
// and never 0 while any wait is due.
func RetryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(ceilSeconds(d), 10)
}

// WriteRejection answers a request refused by a policy: the status of
// [StatusFor], Retry-After when the rejection knows its wait, and a short
// body, plain text or, with problemJSON, an RFC 9457 problem document.
func WriteRejection(w http.ResponseWriter, err error, problemJSON bool) {
	status := StatusFor(err)
	if wait, ok := levee.RetryAfter(err); ok {
		w.Header().Set("Retry-After", RetryAfterSeconds(wait))
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
