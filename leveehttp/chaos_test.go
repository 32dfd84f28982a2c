package leveehttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/chaos"
	"github.com/levee-go/levee/leveehttp"
)

func newInjector(t *testing.T, faults ...chaos.Fault) *chaos.Injector {
	t.Helper()
	in, err := chaos.New(chaos.Config{Faults: faults})
	if err != nil {
		t.Fatalf("chaos.New(%v) = %v", faults, err)
	}
	return in
}

// keyedInjector lets the injector serve as a KeyedGate, whatever the key.
type keyedInjector struct{ in *chaos.Injector }

func (k keyedInjector) AcquireKey(ctx context.Context, _ string) (levee.Permit, error) {
	return k.in.Acquire(ctx)
}

// statusErr is a [levee.Fault] that asks for an HTTP status, as a fault
// injector's errors do.
type statusErr int

func (e statusErr) Error() string { return fmt.Sprintf("status %d", int(e)) }
func (e statusErr) FaultStatus() levee.Status {
	return levee.Status{Code: levee.CodeForHTTP(int(e)), HTTP: int(e)}
}

func TestStatusForCarriedStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{name: "chaos HTTP status", err: &chaos.StatusError{HTTP: 418}, want: 418},
		{name: "chaos gRPC code", err: &chaos.StatusError{GRPC: 8}, want: 429},
		{name: "wrapped", err: fmt.Errorf("call: %w", statusErr(502)), want: 502},
		{name: "joined with a rejection", err: errors.Join(statusErr(507), levee.ErrOpen), want: 507},
		{name: "not an error status", err: statusErr(200), want: 500},
		{name: "out of range", err: statusErr(999), want: 500},
		{name: "rejection", err: levee.ErrLimited, want: 429},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := leveehttp.StatusFor(tt.err); got != tt.want {
				t.Errorf("StatusFor(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

// TestInjectedStatus serves an injected status through every server-side
// adapter, over a real server: the handler is not called and the client
// sees the status.
func TestInjectedStatus(t *testing.T) {
	tests := []struct {
		name  string
		fault chaos.Fault
		mw    func(in *chaos.Injector) func(http.Handler) http.Handler
		want  int
	}{
		{name: "Gate", fault: chaos.HTTPStatus(100, http.StatusTeapot), want: http.StatusTeapot,
			mw: func(in *chaos.Injector) func(http.Handler) http.Handler {
				return leveehttp.Gate(in, leveehttp.Options{})
			}},
		{name: "Gate, problem+json", fault: chaos.HTTPStatus(100, http.StatusBadGateway), want: http.StatusBadGateway,
			mw: func(in *chaos.Injector) func(http.Handler) http.Handler {
				return leveehttp.Gate(in, leveehttp.Options{ProblemJSON: true})
			}},
		{name: "Keyed", fault: chaos.HTTPStatus(100, http.StatusServiceUnavailable), want: http.StatusServiceUnavailable,
			mw: func(in *chaos.Injector) func(http.Handler) http.Handler {
				return leveehttp.Keyed(keyedInjector{in}, leveehttp.KeyRoute, leveehttp.Options{})
			}},
		{name: "Handler", fault: chaos.HTTPStatus(100, http.StatusTeapot), want: http.StatusTeapot,
			mw: func(in *chaos.Injector) func(http.Handler) http.Handler {
				return leveehttp.Handler(levee.New(in), leveehttp.Options{})
			}},
		{name: "Handler, gRPC code only", fault: chaos.GRPCCode(100, 8), want: http.StatusTooManyRequests,
			mw: func(in *chaos.Injector) func(http.Handler) http.Handler {
				return leveehttp.Handler(levee.New(in), leveehttp.Options{})
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var served atomic.Int32
			h := tt.mw(newInjector(t, tt.fault))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				served.Add(1)
			}))
			srv := httptest.NewServer(h)
			defer srv.Close()
			resp, _ := get(t, srv.URL, nil)
			if resp.StatusCode != tt.want {
				t.Errorf("GET through %s with an injected status: status = %d, want %d", tt.name, resp.StatusCode, tt.want)
			}
			if n := served.Load(); n != 0 {
				t.Errorf("GET through %s with an injected status: handler called %d times, want 0", tt.name, n)
			}
		})
	}
}

// TestInjectedPanic checks that a panic a gate returns ends the request as
// a handler panic would: Recover answers 500 and reports it, and the gates
// around it record a failure.
func TestInjectedPanic(t *testing.T) {
	tests := []struct {
		name string
		mw   func(in *chaos.Injector) func(http.Handler) http.Handler
	}{
		{name: "Gate", mw: func(in *chaos.Injector) func(http.Handler) http.Handler {
			return leveehttp.Gate(in, leveehttp.Options{})
		}},
		{name: "Keyed", mw: func(in *chaos.Injector) func(http.Handler) http.Handler {
			return leveehttp.Keyed(keyedInjector{in}, leveehttp.KeyRoute, leveehttp.Options{})
		}},
		{name: "Handler", mw: func(in *chaos.Injector) func(http.Handler) http.Handler {
			return leveehttp.Handler(levee.New(in), leveehttp.Options{})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var served atomic.Int32
			events := make(chan levee.Event, 10)
			outer := &testGate{}
			h := leveehttp.Recover(leveehttp.RecoverOptions{
				Logger:  slog.New(slog.DiscardHandler),
				OnEvent: func(e levee.Event) { events <- e },
			})(leveehttp.Gate(outer, leveehttp.Options{})(
				tt.mw(newInjector(t, chaos.Panic(100, "injected")))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					served.Add(1)
				}))))
			srv := httptest.NewServer(h)
			defer srv.Close()
			resp, _ := get(t, srv.URL, nil)
			if resp.StatusCode != http.StatusInternalServerError {
				t.Errorf("GET with an injected panic: status = %d, want 500", resp.StatusCode)
			}
			if n := served.Load(); n != 0 {
				t.Errorf("GET with an injected panic: handler called %d times, want 0", n)
			}
			// Recover reported the panic before it wrote the response.
			if n := len(events); n != 1 {
				t.Fatalf("Recover reported %d events, want 1", n)
			}
			e := <-events
			var hp *leveehttp.HandlerPanic
			if !errors.As(e.Err, &hp) || hp.Panic.Value != "injected" {
				t.Errorf("Recover's event Err = %v, want a *HandlerPanic with the injected value", e.Err)
			}
			if got := outer.results[levee.Failure].Load(); got != 1 {
				t.Errorf("outer gate recorded %d failures, want 1", got)
			}
		})
	}
}

// TestInjectedPanicReturned checks that a Handler pipeline that returns
// panics answers an injected one with a 500 of its own.
func TestInjectedPanicReturned(t *testing.T) {
	p, err := levee.NewPipeline(levee.Config{ReturnPanics: true}, newInjector(t, chaos.Panic(100, "injected")))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(leveehttp.Handler(p, leveehttp.Options{})(http.NotFoundHandler()))
	defer srv.Close()
	resp, _ := get(t, srv.URL, nil)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("GET with an injected panic returned by the pipeline: status = %d, want 500", resp.StatusCode)
	}
}

// TestInjectedPanicWithoutRecover checks that without Recover the server
// drops the connection, as for a handler's own panic.
func TestInjectedPanicWithoutRecover(t *testing.T) {
	srv := httptest.NewUnstartedServer(leveehttp.Gate(newInjector(t, chaos.Panic(100, "injected")), leveehttp.Options{})(http.NotFoundHandler()))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the server logs the panic
	srv.Start()
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET with an injected panic and no Recover = %d, want the connection dropped", resp.StatusCode)
	}
}

// TestTransportInjectedStatus checks that a client-side injected status
// comes back as the error it is, with no request sent and no response made
// up.
func TestTransportInjectedStatus(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	p := levee.New(newInjector(t, chaos.HTTPStatus(100, http.StatusServiceUnavailable)))
	client := &http.Client{Transport: leveehttp.NewTransport(leveehttp.TransportConfig{
		Pipeline: func(*http.Request) *levee.Pipeline { return p },
	})}
	resp, err := client.Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("Get with an injected 503 = status %d, want an error and no response", resp.StatusCode)
	}
	var se *chaos.StatusError
	if !errors.As(err, &se) || se.HTTPStatus() != http.StatusServiceUnavailable {
		t.Errorf("Get with an injected 503 = %v, want an error carrying the injected status", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("server saw %d requests, want 0", n)
	}
}

// TestTransportInjectedPanic checks that a panic injected in a client
// pipeline is the caller's, raised or returned as the pipeline chose, and
// that no request is sent.
func TestTransportInjectedPanic(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	client := func(cfg levee.Config) *http.Client {
		p, err := levee.NewPipeline(cfg, newInjector(t, chaos.Panic(100, "injected")))
		if err != nil {
			t.Fatal(err)
		}
		return &http.Client{Transport: leveehttp.NewTransport(leveehttp.TransportConfig{
			Pipeline: func(*http.Request) *levee.Pipeline { return p },
		})}
	}

	var recovered any
	func() {
		defer func() { recovered = recover() }()
		resp, err := client(levee.Config{}).Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
	}()
	if recovered != "injected" {
		t.Errorf("Get with an injected panic: recovered %v, want the injected value raised", recovered)
	}

	resp, err := client(levee.Config{ReturnPanics: true}).Get(srv.URL)
	if err == nil {
		resp.Body.Close()
	}
	var pe *levee.PanicError
	if !errors.As(err, &pe) || pe.Value != "injected" {
		t.Errorf("Get with an injected panic and ReturnPanics = %v, want a *levee.PanicError", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("server saw %d requests, want 0", n)
	}
}
