package lifecycle_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/levee-go/levee/lifecycle"
)

// noGRPC is a GRPCServer that does nothing.
type noGRPC struct{}

func (noGRPC) Serve(net.Listener) error { return nil }
func (noGRPC) GracefulStop()            {}
func (noGRPC) Stop()                    {}

// TestZeroLifecycle checks that a Lifecycle not made by New refuses work
// with an error and never panics.
func TestZeroLifecycle(t *testing.T) {
	tests := []struct {
		name string
		call func(l *lifecycle.Lifecycle) error
		ok   bool // nil error expected
	}{
		{"Stop", func(l *lifecycle.Lifecycle) error { l.Stop(); l.Stop(); return nil }, true},
		{"Run", func(l *lifecycle.Lifecycle) error { return l.Run(context.Background()) }, false},
		{"Add", func(l *lifecycle.Lifecycle) error { return l.Add(lifecycle.GRPC(noGRPC{}, nil)) }, false},
		{"Go", func(l *lifecycle.Lifecycle) error {
			return l.Go("w", func(context.Context) error { return nil })
		}, false},
		{"OnFlush", func(l *lifecycle.Lifecycle) error {
			return l.OnFlush("f", 0, func(context.Context) error { return nil })
		}, false},
		{"Upgrade", func(l *lifecycle.Lifecycle) error { return l.Upgrade() }, false},
		{"Stage", func(l *lifecycle.Lifecycle) error {
			if s := l.Stage(); s != lifecycle.Starting {
				return errors.New(s.String())
			}
			return nil
		}, true},
		{"Middleware", func(l *lifecycle.Lifecycle) error {
			rec := httptest.NewRecorder()
			l.Middleware(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Code != http.StatusNotFound {
				return errors.New(rec.Result().Status)
			}
			return nil
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l lifecycle.Lifecycle
			err := tt.call(&l)
			if tt.ok && err != nil {
				t.Errorf("%s on a zero Lifecycle: %v, want nil", tt.name, err)
			}
			if !tt.ok && (err == nil || !strings.HasPrefix(err.Error(), "lifecycle: ")) {
				t.Errorf("%s on a zero Lifecycle: %v, want a lifecycle error", tt.name, err)
			}
		})
	}
}

// TestAdapterNilParts checks that the HTTP and GRPC adapters given a nil
// server or listener are refused by Add with a clear error, and that their
// methods return that error instead of panicking.
func TestAdapterNilParts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tests := []struct {
		name string
		s    lifecycle.Server
		want string
	}{
		{"HTTP nil server", lifecycle.HTTP(nil, ln), "nil *http.Server"},
		{"HTTP nil listener", lifecycle.HTTP(&http.Server{}, nil), "nil listener"},
		{"GRPC nil server", lifecycle.GRPC(nil, ln), "nil server"},
		{"GRPC nil listener", lifecycle.GRPC(noGRPC{}, nil), "nil listener"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = tt.s.(interface{ String() string }).String()
			for name, f := range map[string]func() error{
				"Serve":    tt.s.Serve,
				"Shutdown": func() error { return tt.s.Shutdown(context.Background()) },
				"Close":    tt.s.Close,
			} {
				if err := f(); err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s: %v, want an error containing %q", name, err, tt.want)
				}
			}
			if d, ok := tt.s.(lifecycle.Drainer); ok {
				d.Drain()
			}
			l, err := lifecycle.New(lifecycle.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Add(tt.s); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Add: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
