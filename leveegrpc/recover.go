package leveegrpc

import (
	"context"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/levee-go/levee"
)

// RecoverOptions configures the recovery interceptors. The zero value logs
// with slog.Default().
type RecoverOptions struct {
	// Logger receives one structured line per panic. Nil means
	// slog.Default().
	Logger *slog.Logger
	// OnEvent receives an [levee.EventPanic] per panic, with the
	// [*levee.PanicError] in Err. Called synchronously; must be cheap.
	OnEvent levee.Listener
}

func (o *RecoverOptions) report(ctx context.Context, method string, v any) error {
	pe := levee.NewPanicError(v)
	l := o.Logger
	if l == nil {
		l = slog.Default()
	}
	l.LogAttrs(ctx, slog.LevelError, "panic in gRPC handler", slog.String("method", method),
		slog.Any("panic", v), slog.String("stack", string(pe.Stack)))
	if o.OnEvent != nil {
		o.OnEvent(levee.Event{Kind: levee.EventPanic, Policy: "grpc", Name: method, Err: pe, Context: ctx})
	}
	return status.Error(codes.Internal, "panic in handler")
}

// UnaryServerRecover returns an interceptor that turns a panic in a handler
// into an INTERNAL status instead of a crashed process (grpc-go does not
// recover handler panics). Chain it first, so gate interceptors after it
// record the panic as a failure before it arrives here.
func UnaryServerRecover(opts RecoverOptions) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if v := recover(); v != nil {
				resp, err = nil, opts.report(ctx, info.FullMethod, v)
			}
		}()
		return handler(ctx, req)
	}
}

// StreamServerRecover is [UnaryServerRecover] for streams.
func StreamServerRecover(opts RecoverOptions) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = opts.report(ss.Context(), info.FullMethod, v)
			}
		}()
		return handler(srv, ss)
	}
}
