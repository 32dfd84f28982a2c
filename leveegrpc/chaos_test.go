package leveegrpc_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/chaos"
	"github.com/levee-go/levee/leveegrpc"
)

func newInjector(t *testing.T, faults ...chaos.Fault) *chaos.Injector {
	t.Helper()
	in, err := chaos.New(chaos.Config{Faults: faults})
	if err != nil {
		t.Fatalf("chaos.New(%v) = %v", faults, err)
	}
	return in
}

// codeErr is an error that carries a code, as a fault injector's does.
type codeErr uint32

func (e codeErr) Error() string             { return fmt.Sprintf("code %d", uint32(e)) }
func (e codeErr) FaultStatus() levee.Status { return levee.Status{Code: levee.Code(e)} }

func TestCodeForCarriedCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want codes.Code
	}{
		{name: "chaos gRPC code", err: &chaos.StatusError{GRPC: 8}, want: codes.ResourceExhausted},
		{name: "chaos HTTP status", err: &chaos.StatusError{HTTP: 404}, want: codes.NotFound},
		{name: "wrapped", err: fmt.Errorf("call: %w", codeErr(5)), want: codes.NotFound},
		{name: "joined with a rejection", err: errors.Join(codeErr(13), levee.ErrLimited), want: codes.Internal},
		{name: "OK is no error code", err: codeErr(0), want: codes.Unknown},
		{name: "out of range", err: codeErr(99), want: codes.Unknown},
		{name: "panic", err: levee.NewPanicError("boom"), want: codes.Internal},
		{name: "rejection", err: levee.ErrOpen, want: codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := leveegrpc.CodeFor(tt.err); got != tt.want {
				t.Errorf("CodeFor(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if got := status.Code(leveegrpc.Status(tt.err)); got != tt.want {
				t.Errorf("Status(%v) code = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// watch opens a stream and reads it to its end, returning the final error.
func watch(c healthpb.HealthClient, name string) error {
	stream, err := c.Watch(context.Background(), &healthpb.HealthCheckRequest{Service: name})
	if err != nil {
		return err
	}
	for {
		if _, err := stream.Recv(); err != nil {
			return err
		}
	}
}

// TestInjectedCode serves an injected code through every server-side
// adapter and the client interceptor, over a real socket: the handler is not
// called and the client sees the code.
func TestInjectedCode(t *testing.T) {
	const want = codes.ResourceExhausted
	fault := chaos.GRPCCode(100, uint32(want))
	tests := []struct {
		name   string
		sopts  func(in *chaos.Injector) []grpc.ServerOption
		copts  func(in *chaos.Injector) []grpc.DialOption
		stream bool
	}{
		{name: "UnaryServerGate", sopts: func(in *chaos.Injector) []grpc.ServerOption {
			return []grpc.ServerOption{grpc.UnaryInterceptor(leveegrpc.UnaryServerGate(in, leveegrpc.Options{}))}
		}},
		{name: "UnaryServerPipeline", sopts: func(in *chaos.Injector) []grpc.ServerOption {
			return []grpc.ServerOption{grpc.UnaryInterceptor(leveegrpc.UnaryServerPipeline(levee.New(in), leveegrpc.Options{}))}
		}},
		{name: "StreamServerGate", stream: true, sopts: func(in *chaos.Injector) []grpc.ServerOption {
			return []grpc.ServerOption{grpc.StreamInterceptor(leveegrpc.StreamServerGate(in, leveegrpc.Options{}))}
		}},
		{name: "TapHandle", sopts: func(in *chaos.Injector) []grpc.ServerOption {
			return []grpc.ServerOption{grpc.InTapHandle(leveegrpc.TapHandle(in))}
		}},
		{name: "UnaryClient", copts: func(in *chaos.Injector) []grpc.DialOption {
			p := levee.New(in)
			return []grpc.DialOption{grpc.WithUnaryInterceptor(leveegrpc.UnaryClient(leveegrpc.ClientOptions{
				Pipeline: func(string) *levee.Pipeline { return p },
			}))}
		}},
		{name: "StreamClient", stream: true, copts: func(in *chaos.Injector) []grpc.DialOption {
			p := levee.New(in)
			return []grpc.DialOption{grpc.WithStreamInterceptor(leveegrpc.StreamClient(leveegrpc.ClientOptions{
				Pipeline: func(string) *levee.Pipeline { return p },
			}))}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInjector(t, fault)
			var sopts []grpc.ServerOption
			var copts []grpc.DialOption
			if tt.sopts != nil {
				sopts = tt.sopts(in)
			}
			if tt.copts != nil {
				copts = tt.copts(in)
			}
			svc := &service{}
			c := start(t, svc, sopts, copts...)
			var err error
			if tt.stream {
				err = watch(c, "ok")
			} else {
				err = check(c, context.Background(), "ok")
			}
			if got := status.Code(err); got != want {
				t.Errorf("call through %s with an injected code: %v, want code %v", tt.name, err, want)
			}
			svc.mu.Lock()
			defer svc.mu.Unlock()
			if svc.calls != 0 {
				t.Errorf("call through %s with an injected code: handler ran %d times, want 0", tt.name, svc.calls)
			}
		})
	}
}

// TestInjectedPanic checks that a panic a gate returns ends the call as a
// handler panic would: the recovery interceptor answers INTERNAL and
// reports it, and the gates around it record a failure.
func TestInjectedPanic(t *testing.T) {
	tests := []struct {
		name   string
		stream bool
		inner  func(in *chaos.Injector) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor)
	}{
		{name: "UnaryServerGate", inner: func(in *chaos.Injector) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
			return leveegrpc.UnaryServerGate(in, leveegrpc.Options{}), nil
		}},
		{name: "UnaryServerPipeline", inner: func(in *chaos.Injector) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
			return leveegrpc.UnaryServerPipeline(levee.New(in), leveegrpc.Options{}), nil
		}},
		{name: "StreamServerGate", stream: true, inner: func(in *chaos.Injector) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
			return nil, leveegrpc.StreamServerGate(in, leveegrpc.Options{})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var events []levee.Event
			ropts := leveegrpc.RecoverOptions{Logger: slog.New(slog.DiscardHandler), OnEvent: func(e levee.Event) {
				mu.Lock()
				events = append(events, e)
				mu.Unlock()
			}}
			outer := &testGate{}
			unary, stream := tt.inner(newInjector(t, chaos.Panic(100, "injected")))
			var sopts []grpc.ServerOption
			if tt.stream {
				sopts = append(sopts, grpc.ChainStreamInterceptor(leveegrpc.StreamServerRecover(ropts), leveegrpc.StreamServerGate(outer, leveegrpc.Options{}), stream))
			} else {
				sopts = append(sopts, grpc.ChainUnaryInterceptor(leveegrpc.UnaryServerRecover(ropts), leveegrpc.UnaryServerGate(outer, leveegrpc.Options{}), unary))
			}
			svc := &service{}
			c := start(t, svc, sopts)
			var err error
			if tt.stream {
				err = watch(c, "ok")
			} else {
				err = check(c, context.Background(), "ok")
			}
			if got := status.Code(err); got != codes.Internal {
				t.Errorf("call through %s with an injected panic: %v, want code Internal", tt.name, err)
			}
			svc.mu.Lock()
			if svc.calls != 0 {
				t.Errorf("call through %s with an injected panic: handler ran %d times, want 0", tt.name, svc.calls)
			}
			svc.mu.Unlock()
			if got := outer.results[levee.Failure].Load(); got != 1 {
				t.Errorf("outer gate recorded %d failures, want 1", got)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(events) != 1 {
				t.Fatalf("recovery interceptor reported %d events, want 1", len(events))
			}
			var pe *levee.PanicError
			if !errors.As(events[0].Err, &pe) || pe.Value != "injected" {
				t.Errorf("recovery event Err = %v, want a *levee.PanicError with the injected value", events[0].Err)
			}
		})
	}
}

// TestInjectedPanicNotRaised checks the places that answer an injected panic
// without raising it: a tap handle, which runs before any interceptor, and a
// pipeline that returns panics. The panic value stays on the server.
func TestInjectedPanicNotRaised(t *testing.T) {
	tests := []struct {
		name  string
		sopts func(in *chaos.Injector) []grpc.ServerOption
	}{
		{name: "TapHandle", sopts: func(in *chaos.Injector) []grpc.ServerOption {
			return []grpc.ServerOption{grpc.InTapHandle(leveegrpc.TapHandle(in))}
		}},
		{name: "UnaryServerPipeline with ReturnPanics", sopts: func(in *chaos.Injector) []grpc.ServerOption {
			p, err := levee.NewPipeline(levee.Config{ReturnPanics: true}, in)
			if err != nil {
				panic(err)
			}
			return []grpc.ServerOption{grpc.UnaryInterceptor(leveegrpc.UnaryServerPipeline(p, leveegrpc.Options{}))}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &service{}
			c := start(t, svc, tt.sopts(newInjector(t, chaos.Panic(100, "injected secret"))))
			err := check(c, context.Background(), "ok")
			st, _ := status.FromError(err)
			if st.Code() != codes.Internal {
				t.Errorf("call through %s with an injected panic: %v, want code Internal", tt.name, err)
			}
			if msg := st.Message(); msg == "" || strings.Contains(msg, "secret") {
				t.Errorf("call through %s with an injected panic: message %q, want one without the panic value", tt.name, msg)
			}
		})
	}
}
