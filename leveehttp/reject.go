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
// the error's own status when it carries one (see below), 429 for rate
// limits, 503 for open breakers, shedding, full bulkheads and exhausted
// budgets, 504 for time limits, 500 for anything else.
//
// An error carries a status when an error in its chain (found with
// errors.As) has a method HTTPStatus() int returning 400..599, as the
// injected answers of a fault injector (chaos.StatusError) do: the server
// answers with that status. Other values are ignored.
func StatusFor(err error) int {
	if st, ok := carriedStatus(err); ok {
		return st
	}
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

// httpStatuser is an error that says which HTTP status answers it. Fault
// injectors use it to make an adapter answer with a chosen status without
// the adapter importing them.
type httpStatuser interface {
	error
	HTTPStatus() int
}

// carriedStatus returns the status an error in err's chain asks for, when
// it is an error status.
func carriedStatus(err error) (int, bool) {
	if err == nil {
		return 0, false
	}
	hs, ok := errors.AsType[httpStatuser](err)
	if !ok {
		return 0, false
	}
	st := hs.HTTPStatus()
	if st < 400 || st > 599 {
		return 0, false
	}
	return st, true
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
