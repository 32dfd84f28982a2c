package chaos

import "fmt"

// StatusError is an injected answer for adapters to give instead of calling
// the dependency: an HTTP status for HTTP adapters, a gRPC status code for
// gRPC ones. Set either or both; the other is derived.
//
// Adapters recognise it without importing this package, through its
// methods: an error in the chain with HTTPStatus() int or GRPCCode() uint32
// (found with errors.As) tells them what to answer. Within a pipeline it is
// an ordinary error: [levee.DefaultClassifier] counts it as a failure.
type StatusError struct {
	// HTTP is the HTTP status code, 400..599. Zero means derived from GRPC
	// (as google.rpc.Code documents), or 503 when both are zero.
	HTTP int
	// GRPC is the gRPC status code (a google.golang.org/grpc/codes.Code
	// value), 1..16. Zero means derived from HTTP (the inverse of the same
	// table), or 14 (Unavailable) when both are zero.
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

// HTTPStatus returns the HTTP status an HTTP adapter answers with.
func (e *StatusError) HTTPStatus() int {
	if e.HTTP != 0 {
		return e.HTTP
	}
	if e.GRPC != 0 && int(e.GRPC) < len(grpcToHTTP) {
		return grpcToHTTP[e.GRPC]
	}
	return 503
}

// GRPCCode returns the gRPC status code a gRPC adapter answers with.
func (e *StatusError) GRPCCode() uint32 {
	if e.GRPC != 0 {
		return e.GRPC
	}
	if e.HTTP == 0 {
		return codeUnavailable
	}
	if c, ok := httpToGRPC[e.HTTP]; ok {
		return c
	}
	if e.HTTP >= 500 {
		return codeUnavailable
	}
	return codeUnknown
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

const (
	codeUnknown     = 2
	codeUnavailable = 14
)

// grpcToHTTP follows the mapping documented in google/rpc/code.proto.
var grpcToHTTP = [...]int{
	0: 200, 1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429,
	9: 400, 10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401,
}

// httpToGRPC inverts grpcToHTTP where the inverse is unambiguous.
var httpToGRPC = map[int]uint32{
	400: 3, 401: 16, 403: 7, 404: 5, 409: 10, 429: 8, 499: 1,
	500: 13, 501: 12, 503: 14, 504: 4,
}

var _ error = (*StatusError)(nil)

// The methods adapters look for.
var (
	_ interface{ HTTPStatus() int }  = (*StatusError)(nil)
	_ interface{ GRPCCode() uint32 } = (*StatusError)(nil)
)
