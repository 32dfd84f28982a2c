package chaos

import (
	"fmt"

	"github.com/levee-go/levee"
)

// StatusError is an injected answer for adapters to give instead of calling
// the dependency: an HTTP status for HTTP adapters, a gRPC status code for
// gRPC ones. Set either or both; the other is derived.
//
// It is a [levee.Fault]: adapters find its answer with [levee.StatusOf],
// without knowing this package. Within a pipeline it is an ordinary error:
// [levee.DefaultClassifier] counts it as a failure.
type StatusError struct {
	// HTTP is the HTTP status code, 400..599. Zero means derived from GRPC
	// ([levee.Code.HTTPStatus]), or 503 when both are zero.
	HTTP int
	// GRPC is the gRPC status code (a google.golang.org/grpc/codes.Code
	// value, the same number as a [levee.Code]), 1..16. Zero means derived
	// from HTTP ([levee.CodeForHTTP]), or 14 (Unavailable) when both are
	// zero.
	GRPC uint32
}

// Error describes the injected status.
func (e *StatusError) Error() string {
	switch {
	case e.HTTP != 0 && e.GRPC != 0:
		return fmt.Sprintf("chaos: injected HTTP status %d, gRPC code %d", e.HTTP, e.GRPC)
	case e.GRPC != 0:
		return fmt.Sprintf("chaos: injected gRPC code %d", e.GRPC)
	default:
		return fmt.Sprintf("chaos: injected HTTP status %d", e.HTTPStatus())
	}
}

// FaultStatus returns the answer adapters give, for [levee.StatusOf].
func (e *StatusError) FaultStatus() levee.Status {
	return levee.Status{Code: levee.Code(e.GRPCCode()), HTTP: e.HTTPStatus()}
}

// HTTPStatus returns the HTTP status an HTTP adapter answers with.
func (e *StatusError) HTTPStatus() int {
	if e.HTTP != 0 {
		return e.HTTP
	}
	if e.GRPC != 0 {
		return levee.Code(e.GRPC).HTTPStatus()
	}
	return 503
}

// GRPCCode returns the gRPC status code a gRPC adapter answers with.
func (e *StatusError) GRPCCode() uint32 {
	if e.GRPC != 0 {
		return e.GRPC
	}
	if e.HTTP == 0 {
		return uint32(levee.CodeUnavailable)
	}
	return uint32(levee.CodeForHTTP(e.HTTP))
}

func (e *StatusError) validate() error {
	switch {
	case e.HTTP != 0 && (e.HTTP < 400 || e.HTTP > 599):
		return fmt.Errorf("StatusError.HTTP = %d, want 400..599 (or 0)", e.HTTP)
	case e.GRPC > 16:
		return fmt.Errorf("StatusError.GRPC = %d, want 1..16 (or 0)", e.GRPC)
	}
	return nil
}

var _ levee.Fault = (*StatusError)(nil)
