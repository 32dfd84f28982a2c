package health_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/health"
)

func show(h http.Handler, target string, accept ...string) {
	r := httptest.NewRequest("GET", target, nil)
	for _, a := range accept {
		r.Header.Set("Accept", a)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Body)
	fmt.Printf("GET %s -> %d\n%s\n", target, w.Code, b)
}

func Example() {
	h, _ := health.New(health.Config{})
	defer h.Close()
	h.Add(health.Check{Name: "ping", Probes: health.Liveness | health.Readiness,
		Func: func(context.Context) error { return nil }})
	h.Add(health.Check{Name: "db", Timeout: 500 * time.Millisecond,
		Func: func(context.Context) error { return errors.New("dial tcp 10.0.0.5:5432: connection refused") }})

	mux := http.NewServeMux()
	h.Register(mux)

	show(mux, "/livez")
	show(mux, "/readyz")
	show(mux, "/readyz?exclude=db&verbose")
	show(mux, "/readyz/db")
	// Output:
	// GET /livez -> 200
	// ok
	// GET /readyz -> 500
	// [+]shutdown ok
	// [+]ping ok
	// [-]db failed: dial tcp 10.0.0.5:5432: connection refused
	// readyz check failed
	//
	// GET /readyz?exclude=db&verbose -> 200
	// [+]shutdown ok
	// [+]ping ok
	// [+]db excluded: ok
	// readyz check passed
	//
	// GET /readyz/db -> 500
	// internal server error: dial tcp 10.0.0.5:5432: connection refused
}

func ExampleHealth_Drain() {
	h, _ := health.New(health.Config{})
	defer h.Close()
	hd := h.Handler()

	show(hd, "/readyz")
	h.Drain() // what lifecycle does when SIGTERM arrives
	show(hd, "/readyz")
	show(hd, "/livez")
	// Output:
	// GET /readyz -> 200
	// ok
	// GET /readyz -> 500
	// [-]shutdown failed: process is shutting down
	// readyz check failed
	//
	// GET /livez -> 200
	// ok
}

func ExampleCheck_nonCritical() {
	// A fake clock keeps the timestamps in the JSON fixed.
	h, _ := health.New(health.Config{Clock: clocktest.New(time.Time{})})
	defer h.Close()
	h.Add(health.Check{Name: "cache", NonCritical: true,
		Func: func(context.Context) error { return errors.New("redis: connection pool timeout") }})

	show(h.Handler(), "/readyz?verbose")
	show(h.Handler(), "/readyz", "application/json")
	// Output:
	// GET /readyz?verbose -> 200
	// [+]shutdown ok
	// [-]cache failed: redis: connection pool timeout (non-critical)
	// readyz check passed
	//
	// GET /readyz -> 200
	// {"probe":"readyz","status":"degraded","checks":[{"name":"shutdown","status":"ok","critical":true},{"name":"cache","status":"degraded","error":"redis: connection pool timeout","critical":false,"checked_at":"2026-01-01T00:00:00Z"}]}
}
