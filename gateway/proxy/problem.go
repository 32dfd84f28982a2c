package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/levee-go/levee/leveehttp"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// ReasonHeader is the response header field that says why the gateway,
// not the upstream, answered: one of the Reason values. An answer that
// comes from the upstream never carries it.
const ReasonHeader = "Levee-Reason"

// Reasons the gateway answers a request itself, in [ReasonHeader] and in
// the "reason" member of the problem+json body.
const (
	// ReasonNoRoute: no route matches the request (404).
	ReasonNoRoute = "no_route"
	// ReasonBodyTooLarge: the request's body is longer than the route's
	// max_request_body (413).
	ReasonBodyTooLarge = "body_too_large"
	// ReasonHeadersTooLarge: the request's header fields are longer than
	// the route's max_request_headers (431).
	ReasonHeadersTooLarge = "headers_too_large"
	// ReasonBreakerOpen: the upstream's breaker is open (503, with
	// Retry-After).
	ReasonBreakerOpen = "breaker_open"
	// ReasonTimeout: the route's timeout or the upstream's
	// response_header_timeout passed before the upstream answered (504).
	ReasonTimeout = "upstream_timeout"
	// ReasonConnectFailure: no connection to the target could be made
	// (502).
	ReasonConnectFailure = "connect_failure"
	// ReasonReset: the connection broke before a whole response header
	// arrived (502).
	ReasonReset = "upstream_reset"
	// ReasonBadResponse: the target answered something that is not HTTP
	// (502).
	ReasonBadResponse = "bad_response"
	// ReasonUpstreamError: the upstream failed in another way (502).
	ReasonUpstreamError = "upstream_error"
)

// problem is an RFC 9457 problem document, with the reason and the route
// as extension members.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Reason string `json:"reason"`
	Route  string `json:"route,omitempty"`
}

// writeProblem answers with status and a problem+json body. Details name
// no address or internal error text: a client learns what went wrong, not
// the topology behind the gateway.
func writeProblem(w http.ResponseWriter, status int, reason, route, detail string) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set(ReasonHeader, reason)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problem{
		Type: "about:blank", Title: http.StatusText(status), Status: status,
		Detail: detail, Reason: reason, Route: route,
	})
}

// setRetryAfter writes wait as Retry-After the way every Levee adapter
// does ([leveehttp.RetryAfterSeconds]: rounded up, never 0 while a wait is
// due), and writes nothing for a wait no number expresses ([levee.Never])
// or none at all.
func setRetryAfter(h http.Header, wait time.Duration) {
	if wait <= 0 {
		return
	}
	if v := leveehttp.RetryAfterSeconds(wait); v != "" {
		h.Set("Retry-After", v)
	}
}

// failure is how a forwarded request failed, as the client is told.
type failure struct {
	status int
	reason string
	detail string
}

// classify turns the error of a forwarded request into the answer the
// client gets. ctxErr is the error of the request's own context: when the
// route's deadline passed, the answer is 504 whatever the transport said.
func classify(err, ctxErr error) failure {
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case errors.As(err, &tooLarge):
		return failure{http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, "the request body is longer than the route allows"}
	case errors.Is(ctxErr, context.DeadlineExceeded):
		return failure{http.StatusGatewayTimeout, ReasonTimeout, "the upstream did not answer within the route's timeout"}
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return failure{http.StatusBadGateway, ReasonConnectFailure, "no connection to the upstream could be made"}
	case errors.As(err, &netErr) && netErr.Timeout():
		return failure{http.StatusGatewayTimeout, ReasonTimeout, "the upstream did not answer in time"}
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.EPIPE):
		return failure{http.StatusBadGateway, ReasonReset, "the upstream closed the connection before answering"}
	case strings.Contains(err.Error(), "malformed"):
		return failure{http.StatusBadGateway, ReasonBadResponse, "the upstream's answer is not valid HTTP"}
	}
	return failure{http.StatusBadGateway, ReasonUpstreamError, "the upstream could not be reached"}
}
