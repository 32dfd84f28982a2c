package levee

import (
	"context"
	"errors"
	"time"
)

// Code says how a transport answers an error, in terms every transport can
// map: the gRPC status codes, with the same numbers (0..16), so leveegrpc
// converts a Code directly and leveehttp through [Code.HTTPStatus].
type Code uint32

// The codes, numbered as gRPC's.
const (
	CodeOK                 Code = 0
	CodeCanceled           Code = 1
	CodeUnknown            Code = 2
	CodeInvalidArgument    Code = 3
	CodeDeadlineExceeded   Code = 4
	CodeNotFound           Code = 5
	CodeAlreadyExists      Code = 6
	CodePermissionDenied   Code = 7
	CodeResourceExhausted  Code = 8
	CodeFailedPrecondition Code = 9
	CodeAborted            Code = 10
	CodeOutOfRange         Code = 11
	CodeUnimplemented      Code = 12
	CodeInternal           Code = 13
	CodeUnavailable        Code = 14
	CodeDataLoss           Code = 15
	CodeUnauthenticated    Code = 16
)

// codeHTTP follows the mapping documented in google/rpc/code.proto.
var codeHTTP = [...]int{
	CodeOK: 200, CodeCanceled: 499, CodeUnknown: 500, CodeInvalidArgument: 400,
	CodeDeadlineExceeded: 504, CodeNotFound: 404, CodeAlreadyExists: 409,
	CodePermissionDenied: 403, CodeResourceExhausted: 429, CodeFailedPrecondition: 400,
	CodeAborted: 409, CodeOutOfRange: 400, CodeUnimplemented: 501, CodeInternal: 500,
	CodeUnavailable: 503, CodeDataLoss: 500, CodeUnauthenticated: 401,
}

// HTTPStatus returns the HTTP status that answers c, as google/rpc/code.proto
// maps them (ResourceExhausted is 429, Unavailable 503, DeadlineExceeded
// 504); 500 for a code out of range.
func (c Code) HTTPStatus() int {
	if int(c) < len(codeHTTP) {
		return codeHTTP[c]
	}
	return 500
}

// CodeForHTTP returns the code that answers an HTTP status, the inverse of
// [Code.HTTPStatus] where it is unambiguous (409 is CodeAborted); other
// 5xx are CodeUnavailable, anything else CodeUnknown.
func CodeForHTTP(status int) Code {
	switch status {
	case 400:
		return CodeInvalidArgument
	case 401:
		return CodeUnauthenticated
	case 403:
		return CodePermissionDenied
	case 404:
		return CodeNotFound
	case 409:
		return CodeAborted
	case 429:
		return CodeResourceExhausted
	case 499:
		return CodeCanceled
	case 500:
		return CodeInternal
	case 501:
		return CodeUnimplemented
	case 503:
		return CodeUnavailable
	case 504:
		return CodeDeadlineExceeded
	}
	if status >= 500 && status <= 599 {
		return CodeUnavailable
	}
	return CodeUnknown
}

// Status is the answer an error asks transports to give: a [Code] every
// transport maps, and, for HTTP transports, an exact HTTP status when the
// code's own ([Code.HTTPStatus]) will not do.
type Status struct {
	Code Code
	// HTTP is the HTTP status, 400..599. Zero (or any other value) means
	// Code.HTTPStatus().
	HTTP int
}

// HTTPStatus returns the HTTP status that answers s.
func (s Status) HTTPStatus() int {
	if s.HTTP >= 400 && s.HTTP <= 599 {
		return s.HTTP
	}
	return s.Code.HTTPStatus()
}

// A Fault is an error that says how transports answer it, such as the
// injected answers of a fault injector (chaos.StatusError). Adapters find it
// with [StatusOf], so they answer an injected fault without knowing who
// injected it.
type Fault interface {
	error
	// FaultStatus returns the answer. A Code of CodeOK or above 16 is
	// ignored.
	FaultStatus() Status
}

// StatusOf returns how a transport answers err, the one mapping leveehttp
// and leveegrpc share:
//   - nil: CodeOK;
//   - a [Fault] in the chain (errors.As) with a valid code: its status;
//   - [ErrLimited]: CodeResourceExhausted (HTTP 429);
//   - any other rejection ([ErrRejected]): CodeUnavailable (503);
//   - [ErrTimeout] or [context.DeadlineExceeded]: CodeDeadlineExceeded (504);
//   - [context.Canceled]: CodeCanceled (499);
//   - a [*PanicError]: CodeInternal (500);
//   - anything else: CodeUnknown (500).
func StatusOf(err error) Status {
	if err == nil {
		return Status{Code: CodeOK}
	}
	if f, ok := errors.AsType[Fault](err); ok {
		if s := f.FaultStatus(); s.Code > CodeOK && s.Code <= CodeUnauthenticated {
			return s
		}
	}
	switch {
	case errors.Is(err, ErrLimited):
		return Status{Code: CodeResourceExhausted}
	case errors.Is(err, ErrRejected):
		return Status{Code: CodeUnavailable}
	case errors.Is(err, context.DeadlineExceeded):
		return Status{Code: CodeDeadlineExceeded}
	case errors.Is(err, context.Canceled):
		return Status{Code: CodeCanceled}
	}
	if _, ok := errors.AsType[*PanicError](err); ok {
		return Status{Code: CodeInternal}
	}
	return Status{Code: CodeUnknown}
}

// WaitUnits converts a wait told to a client (Retry-After in seconds, gRPC
// pushback in milliseconds) into whole units, rounded up: a client told to
// come back early would only be refused again, so 1999.7ms is 2000ms and
// 1ns is 1s. ok is false for a wait that no number expresses: [Never],
// a negative wait, or a unit that is not positive.
func WaitUnits(d, unit time.Duration) (n int64, ok bool) {
	if d < 0 || d == Never || unit <= 0 {
		return 0, false
	}
	n = int64(d / unit)
	if d%unit != 0 {
		n++
	}
	return n, true
}
