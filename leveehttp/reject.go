package leveehttp

import (
	"context"
	"encoding/json"
	"errors"
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
// body, plain text or, with problemJSON, an RFC 9457 problem document whose
// detail says what the client needs: the kind of refusal and when to come
// back ([RefusalDetail]). The error's own text never reaches the client: it
// may name internal hosts and URLs.
func WriteRejection(w http.ResponseWriter, err error, problemJSON bool) {
	status := StatusFor(err)
	retry := ""
	if wait, ok := levee.RetryAfter(err); ok {
		if retry = RetryAfterSeconds(wait); retry != "" {
			w.Header().Set("Retry-After", retry)
		}
	}
	if !problemJSON {
		writeStatus(w, status, "", false)
		return
	}
	writeStatus(w, status, refusalDetail(err, status, retry), true)
}

// RefusalDetail describes a refusal for a client, without the error's text:
// its kind ("rate limited", "circuit breaker open", "too many concurrent
// requests", "load shed", "retry budget exhausted", "time limit exceeded",
// else the status text) and, when the refusal knows its wait, when to come
// back ("; retry after 3 s").
func RefusalDetail(err error) string {
	retry := ""
	if wait, ok := levee.RetryAfter(err); ok {
		retry = RetryAfterSeconds(wait)
	}
	return refusalDetail(err, StatusFor(err), retry)
}

func refusalDetail(err error, status int, retry string) string {
	kind := http.StatusText(status)
	switch {
	case errors.Is(err, levee.ErrLimited):
		kind = "rate limited"
	case errors.Is(err, levee.ErrOpen):
		kind = "circuit breaker open"
	case errors.Is(err, levee.ErrBulkheadFull):
		kind = "too many concurrent requests"
	case errors.Is(err, levee.ErrShed):
		kind = "load shed"
	case errors.Is(err, levee.ErrBudgetExhausted):
		kind = "retry budget exhausted"
	case errors.Is(err, levee.ErrRejected):
		kind = "rejected"
	case errors.Is(err, context.DeadlineExceeded):
		kind = "time limit exceeded"
	}
	if retry == "" {
		return kind
	}
	return kind + "; retry after " + retry + " s"
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
