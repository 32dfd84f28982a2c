package lifecycle

import (
	"context"
	"errors"
	"net"
	"net/http"
)

// Server is anything that serves until told to stop: an HTTP server, a gRPC
// server, a raw TCP accept loop. Adapters: [HTTP] and [GRPC].
type Server interface {
	// Serve serves until Shutdown or Close; it returns nil when stopped by
	// them, and an error when it fails on its own (which shuts the whole
	// process down).
	Serve() error
	// Shutdown stops accepting, lets in-flight work finish and returns
	// nil, or returns ctx's error if ctx ends first.
	Shutdown(ctx context.Context) error
	// Close stops at once, cutting off whatever is in flight.
	Close() error
}

// Drainer is implemented by servers that can prepare for shutdown while
// still serving: [Lifecycle] calls Drain when the Draining stage begins.
// The [HTTP] adapter turns keep-alives off so that HTTP/1 clients reconnect
// (and so reach another pod) after their current request.
type Drainer interface {
	Drain()
}

// HTTP adapts srv serving on ln. Drain disables keep-alives (responses
// carry "Connection: close" and idle connections close); Shutdown is
// [http.Server.Shutdown], which also sends HTTP/2 clients a GOAWAY; Close
// is [http.Server.Close].
func HTTP(srv *http.Server, ln net.Listener) Server { return &httpServer{srv, ln} }

type httpServer struct {
	srv *http.Server
	ln  net.Listener
}

func (s *httpServer) Serve() error {
	err := s.srv.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *httpServer) Drain()                             { s.srv.SetKeepAlivesEnabled(false) }
func (s *httpServer) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }
func (s *httpServer) Close() error                       { return s.srv.Close() }
func (s *httpServer) String() string                     { return "http " + s.ln.Addr().String() }

// GRPCServer is the part of *grpc.Server that [GRPC] uses, so that this
// package need not import gRPC.
type GRPCServer interface {
	Serve(net.Listener) error
	GracefulStop()
	Stop()
}

// GRPC adapts a gRPC server serving on ln: Shutdown is GracefulStop (which
// sends GOAWAY and waits for in-flight RPCs) bounded by its context, and
// Close is Stop.
func GRPC(srv GRPCServer, ln net.Listener) Server { return &grpcServer{srv, ln} }

type grpcServer struct {
	srv GRPCServer
	ln  net.Listener
}

func (s *grpcServer) Serve() error { return s.srv.Serve(s.ln) }
func (s *grpcServer) Close() error { s.srv.Stop(); return nil }
func (s *grpcServer) String() string {
	return "grpc " + s.ln.Addr().String()
}

func (s *grpcServer) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.srv.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		// The caller follows with Close; Stop makes GracefulStop return.
		return ctx.Err()
	}
}

var (
	_ Server  = (*httpServer)(nil)
	_ Drainer = (*httpServer)(nil)
	_ Server  = (*grpcServer)(nil)
)
