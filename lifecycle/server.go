package lifecycle

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
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
// The [HTTP] adapter answers the next request on each keep-alive
// connection with "Connection: close", so that clients reconnect (and so
// reach another pod, or the new process of an upgrade) after their
// current request.
type Drainer interface {
	Drain()
}

// HTTP adapts srv serving on ln. Serve wraps srv.Handler (nil means
// [http.DefaultServeMux]) so that, once Drain is called, every response
// carries "Connection: close" and its connection closes after it; an
// HTTP/2 connection gets a GOAWAY instead. Idle keep-alive connections are
// left open while draining: closing one would lose a request its client
// may be sending on it at that moment (the client cannot tell that the
// server closed first, and most clients do not retry). Shutdown is
// [http.Server.Shutdown], which closes the connections still idle, stops
// accepting, waits for requests in flight and sends HTTP/2 clients a
// GOAWAY; Close is [http.Server.Close].
//
// A nil srv or ln makes a Server that [Lifecycle.Add] refuses and whose
// methods return that error.
func HTTP(srv *http.Server, ln net.Listener) Server { return &httpServer{srv: srv, ln: ln} }

type httpServer struct {
	srv      *http.Server
	ln       net.Listener
	draining atomic.Bool
}

// valid returns the error of an adapter made with a nil part.
func (s *httpServer) valid() error {
	switch {
	case s.srv == nil:
		return errors.New("lifecycle: HTTP: nil *http.Server")
	case s.ln == nil:
		return errors.New("lifecycle: HTTP: nil listener")
	}
	return nil
}

func (s *httpServer) Serve() error {
	if err := s.valid(); err != nil {
		return err
	}
	next := s.srv.Handler
	if next == nil {
		next = http.DefaultServeMux
	}
	s.srv.Handler = closeWhenDraining{next, &s.draining}
	err := s.srv.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *httpServer) Drain() { s.draining.Store(true) }

func (s *httpServer) Shutdown(ctx context.Context) error {
	if err := s.valid(); err != nil {
		return err
	}
	return s.srv.Shutdown(ctx)
}

func (s *httpServer) Close() error {
	if err := s.valid(); err != nil {
		return err
	}
	return s.srv.Close()
}

func (s *httpServer) String() string { return "http " + addrOf(s.ln) }

// addrOf names ln's address in logs, "<nil>" for a nil listener.
func addrOf(ln net.Listener) string {
	if ln == nil {
		return "<nil>"
	}
	return ln.Addr().String()
}

// closeWhenDraining answers with "Connection: close" once draining is set:
// net/http then closes an HTTP/1 connection after the response, and sends
// a GOAWAY on an HTTP/2 one. This ends keep-alives at a moment the client
// knows of, instead of closing an idle connection it may be writing to.
type closeWhenDraining struct {
	next     http.Handler
	draining *atomic.Bool
}

func (h closeWhenDraining) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.draining.Load() {
		w.Header().Set("Connection", "close")
	}
	h.next.ServeHTTP(w, r)
}

// GRPCServer is the part of *grpc.Server that [GRPC] uses, so that this
// package need not import gRPC.
type GRPCServer interface {
	Serve(net.Listener) error
	GracefulStop()
	Stop()
}

// GRPC adapts a gRPC server serving on ln: Shutdown is GracefulStop (which
// sends GOAWAY and waits for in-flight RPCs) bounded by its context, and
// Close is Stop. A nil srv or ln makes a Server that [Lifecycle.Add] refuses
// and whose methods return that error.
func GRPC(srv GRPCServer, ln net.Listener) Server { return &grpcServer{srv, ln} }

type grpcServer struct {
	srv GRPCServer
	ln  net.Listener
}

// valid returns the error of an adapter made with a nil part.
func (s *grpcServer) valid() error {
	switch {
	case s.srv == nil:
		return errors.New("lifecycle: GRPC: nil server")
	case s.ln == nil:
		return errors.New("lifecycle: GRPC: nil listener")
	}
	return nil
}

func (s *grpcServer) Serve() error {
	if err := s.valid(); err != nil {
		return err
	}
	return s.srv.Serve(s.ln)
}

func (s *grpcServer) Close() error {
	if err := s.valid(); err != nil {
		return err
	}
	s.srv.Stop()
	return nil
}

func (s *grpcServer) String() string { return "grpc " + addrOf(s.ln) }

func (s *grpcServer) Shutdown(ctx context.Context) error {
	if err := s.valid(); err != nil {
		return err
	}
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
