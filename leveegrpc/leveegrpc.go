package leveegrpc

import (
	"context"
	"errors"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	"github.com/levee-go/levee"
)

// Metadata keys.
const (
	// PushbackKey is the trailer in which a server tells a client how many
	// milliseconds to wait before retrying; a negative or malformed value
	// means "do not retry".
	PushbackKey = "grpc-retry-pushback-ms"
	// CriticalityKey carries a [levee.Criticality] by name.
	CriticalityKey = "x-criticality"
)

// Options configures the interceptors. The zero value is ready to use.
type Options struct {
	// Classify maps a call's final status code to an outcome. Nil means
	// [ClassifyCode].
	Classify func(codes.Code) levee.Result
}

func (o *Options) classify(err error) levee.Result {
	c := status.Code(err)
	if o.Classify != nil {
		return o.Classify(c)
	}
	return ClassifyCode(c)
}

// ClassifyCode is the default classifier (see the package documentation).
func ClassifyCode(c codes.Code) levee.Result {
	switch c {
	case codes.OK:
		return levee.Success
	case codes.Canceled:
		return levee.Ignored
	case codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.Unknown, codes.DataLoss, codes.ResourceExhausted:
		return levee.Failure
	}
	return levee.Success
}

// CodeFor maps a policy error to a status code: [levee.StatusOf]'s code. A
// [levee.Fault] in the chain (an injected fault) gets its own code; rate
// limits get ResourceExhausted, other rejections Unavailable, time limits
// and deadlines DeadlineExceeded, a cancelled caller Canceled, a
// [*levee.PanicError] Internal (as the recovery interceptors answer a
// panic), anything else Unknown.
func CodeFor(err error) codes.Code {
	if err == nil {
		return codes.Unknown
	}
	return codes.Code(levee.StatusOf(err).Code)
}

// raisePanic raises a panic that a gate returned as a [*levee.PanicError]
// (a fault injector's), with its value, as [levee.Do] does: the call then
// ends as if the handler had panicked, for the recovery interceptors.
func raisePanic(err error) {
	if pe, ok := errors.AsType[*levee.PanicError](err); ok {
		panic(pe.Value)
	}
}

// Status converts a policy error into a gRPC status error. Errors that are
// already statuses pass through.
func Status(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(CodeFor(err), err.Error())
}

// errPanicStatus answers a call whose panic a server returned instead of
// raising: the panic value stays on the server, as with the recovery
// interceptors.
var errPanicStatus = status.Error(codes.Internal, "panic in handler")

// rejectStatus sets the pushback trailer for a rejection that knows its wait,
// and returns its status.
func rejectStatus(ctx context.Context, err error) error {
	if _, ok := errors.AsType[*levee.PanicError](err); ok {
		return errPanicStatus
	}
	if wait, ok := levee.RetryAfter(err); ok {
		_ = grpc.SetTrailer(ctx, metadata.Pairs(PushbackKey, pushback(wait)))
	}
	return Status(err)
}

// pushback formats a wait for the pushback trailer: milliseconds rounded up
// ([levee.WaitUnits]), so the client does not come back early, and "-1" (do
// not retry) for [levee.Never].
func pushback(wait time.Duration) string {
	ms, ok := levee.WaitUnits(wait, time.Millisecond)
	if !ok {
		return "-1"
	}
	return strconv.FormatInt(ms, 10)
}

func serverContext(ctx context.Context) context.Context {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return ctx
	}
	if v := md.Get(CriticalityKey); len(v) > 0 {
		if c, ok := levee.ParseCriticality(v[0]); ok {
			return levee.WithCriticality(ctx, c)
		}
	}
	return ctx
}

// UnaryServerGate returns a server interceptor that admits each call through
// g and records its outcome from the returned status. It reads the caller's
// criticality into the context first, so shedders see it.
//
// A refusal ends the call with the status of [CodeFor] (an injected fault's
// own code, when it carries one). A [*levee.PanicError] returned by Acquire
// (a fault injector's panic, returned rather than raised so that outer gates
// settle their permits) is raised with its value, as [levee.Do] does: chain
// [UnaryServerRecover] first and it answers INTERNAL, logs and reports it as
// for a handler's panic.
func UnaryServerGate(g levee.Gate, opts Options) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx = serverContext(ctx)
		permit, err := g.Acquire(ctx)
		if err != nil {
			raisePanic(err)
			return nil, rejectStatus(ctx, err)
		}
		resp, err := callRecorded(ctx, req, handler, permit, &opts)
		return resp, err
	}
}

func callRecorded(ctx context.Context, req any, handler grpc.UnaryHandler, permit levee.Permit, opts *Options) (resp any, err error) {
	defer func() {
		if v := recover(); v != nil {
			permit.Record(levee.Outcome{Result: levee.Failure})
			panic(v)
		}
	}()
	resp, err = handler(ctx, req)
	permit.Record(levee.Outcome{Result: opts.classify(err), Err: err})
	return resp, err
}

// UnaryServerPipeline returns a server interceptor that runs each call
// through the pipeline p (gates, time limits, fallbacks; retries make no
// sense on the server). Errors of the policies become statuses ([CodeFor]).
// A panic, the handler's or one injected in the pipeline, is raised as
// [levee.Do] does (for [UnaryServerRecover]), or, in a pipeline with
// ReturnPanics, ends the call with INTERNAL.
func UnaryServerPipeline(p *levee.Pipeline, opts Options) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx = serverContext(ctx)
		resp, err := levee.Do(ctx, p, func(ctx context.Context) (any, error) {
			resp, err := handler(ctx, req)
			if err != nil && opts.classify(err) != levee.Failure {
				// Keep client errors from counting as failures.
				return resp, levee.Ignore(err)
			}
			return resp, err
		})
		if err != nil {
			if _, ok := status.FromError(unwrapIgnored(err)); ok {
				return resp, unwrapIgnored(err)
			}
			return nil, rejectStatus(ctx, err)
		}
		return resp, nil
	}
}

func unwrapIgnored(err error) error {
	var st interface{ GRPCStatus() *status.Status }
	if errors.As(err, &st) {
		return st.GRPCStatus().Err()
	}
	return err
}

// StreamServerGate returns a stream interceptor that admits each stream
// through g and records its outcome when the handler returns. Refusals and
// returned panics are handled as in [UnaryServerGate] (chain
// [StreamServerRecover] first).
func StreamServerGate(g levee.Gate, opts Options) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		ctx := serverContext(ss.Context())
		permit, err := g.Acquire(ctx)
		if err != nil {
			raisePanic(err)
			return rejectStatus(ss.Context(), err)
		}
		defer func() {
			if v := recover(); v != nil {
				permit.Record(levee.Outcome{Result: levee.Failure})
				panic(v)
			}
		}()
		if ctx != ss.Context() {
			ss = &ctxStream{ServerStream: ss, ctx: ctx}
		}
		err = handler(srv, ss)
		permit.Record(levee.Outcome{Result: opts.classify(err), Err: err})
		return err
	}
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *ctxStream) Context() context.Context { return s.ctx }

// TapHandle returns a tap handle that admits each incoming call through g
// before the server sets up its stream, the cheapest place to refuse load. It
// suits gates whose admission is the whole decision (rate limiters,
// shedders): the permit is settled at once, as ignored. A refused call ends
// with the rejection's status code. A tap handle runs before any
// interceptor, where a panic would crash the server, so a
// [*levee.PanicError] returned by Acquire ends the call with INTERNAL
// instead of being raised.
func TapHandle(g levee.Gate) tap.ServerInHandle {
	return func(ctx context.Context, info *tap.Info) (context.Context, error) {
		permit, err := g.Acquire(serverContext(ctx))
		if err != nil {
			if _, ok := errors.AsType[*levee.PanicError](err); ok {
				return ctx, errPanicStatus
			}
			return ctx, Status(err)
		}
		permit.Record(levee.Outcome{Result: levee.Ignored})
		return ctx, nil
	}
}

// PushbackError is what the client's policies see for a call that failed
// with a server's retry pushback: RetryAfter returns the wait, or a negative
// duration when the server asked not to retry at all (which stops Levee's
// retry policy); NoRetry reports the same as a boolean.
type PushbackError struct {
	Err  error
	Wait time.Duration
	Stop bool
}

func (e *PushbackError) Error() string {
	if e.Err == nil {
		return "leveegrpc: retry pushback"
	}
	return e.Err.Error()
}

// Unwrap returns the status error.
func (e *PushbackError) Unwrap() error { return e.Err }

// GRPCStatus lets status.FromError see through the wrapper.
func (e *PushbackError) GRPCStatus() *status.Status { s, _ := status.FromError(e.Err); return s }

// RetryAfter returns the server's pushback, negative for "do not retry".
func (e *PushbackError) RetryAfter() time.Duration {
	if e.Stop {
		return -1
	}
	return e.Wait
}

// NoRetry reports whether the server asked the client not to retry.
func (e *PushbackError) NoRetry() bool { return e.Stop }

// ClientOptions configures the client interceptors. The zero value runs
// without policies and only propagates criticality.
type ClientOptions struct {
	Options
	// Pipeline picks the pipeline for a method (for example one per
	// service with a breaker each). Nil, or a nil result, calls directly.
	Pipeline func(method string) *levee.Pipeline
	// MaxPushback caps a server's retry pushback. Zero means 1 minute.
	MaxPushback time.Duration
}

func clientContext(ctx context.Context) context.Context {
	if c := levee.CriticalityFrom(ctx); c != levee.Critical {
		if md, ok := metadata.FromOutgoingContext(ctx); !ok || len(md.Get(CriticalityKey)) == 0 {
			return metadata.AppendToOutgoingContext(ctx, CriticalityKey, c.String())
		}
	}
	return ctx
}

// UnaryClient returns a client interceptor that runs each call through the
// pipeline opts.Pipeline picks: retries honour the server's pushback trailer,
// breakers learn from status codes, and the remaining deadline travels as
// gRPC's own grpc-timeout.
func UnaryClient(opts ClientOptions) grpc.UnaryClientInterceptor {
	maxPush := opts.MaxPushback
	if maxPush <= 0 {
		maxPush = time.Minute
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, callOpts ...grpc.CallOption) error {
		ctx = clientContext(ctx)
		var p *levee.Pipeline
		if opts.Pipeline != nil {
			p = opts.Pipeline(method)
		}
		if p == nil {
			return invoker(ctx, method, req, reply, cc, callOpts...)
		}
		err := p.Run(ctx, func(ctx context.Context) error {
			var trailer metadata.MD
			err := invoker(ctx, method, req, reply, cc, append(callOpts, grpc.Trailer(&trailer))...)
			if err == nil {
				return nil
			}
			if opts.classify(err) != levee.Failure {
				return levee.Ignore(err)
			}
			if v := trailer.Get(PushbackKey); len(v) > 0 {
				ms, perr := strconv.ParseInt(v[0], 10, 64)
				if perr != nil || ms < 0 {
					return &PushbackError{Err: err, Stop: true}
				}
				return &PushbackError{Err: err, Wait: min(time.Duration(ms)*time.Millisecond, maxPush)}
			}
			return err
		})
		if err == nil {
			return nil
		}
		if _, ok := status.FromError(unwrapIgnored(err)); ok {
			return unwrapIgnored(err)
		}
		return Status(err)
	}
}

// StreamClient returns a client stream interceptor that admits the setting
// up of each stream through the pipeline opts.Pipeline picks (a stream in
// progress cannot be retried) and propagates criticality.
func StreamClient(opts ClientOptions) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, callOpts ...grpc.CallOption) (grpc.ClientStream, error) {
		ctx = clientContext(ctx)
		var p *levee.Pipeline
		if opts.Pipeline != nil {
			p = opts.Pipeline(method)
		}
		if p == nil {
			return streamer(ctx, desc, cc, method, callOpts...)
		}
		cs, err := levee.Do(ctx, p, func(ctx context.Context) (grpc.ClientStream, error) {
			return streamer(ctx, desc, cc, method, callOpts...)
		})
		if err != nil {
			return nil, Status(err)
		}
		return cs, nil
	}
}
