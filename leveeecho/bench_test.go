package leveeecho_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/leveeecho"
	"github.com/levee-go/levee/leveehttp"
)

// nopGate admits every call and needs no report: with it, a benchmark
// measures the middleware alone.
type nopGate struct{}

func (nopGate) Stage() levee.Stage                            { return levee.StageBreaker }
func (nopGate) Acquire(context.Context) (levee.Permit, error) { return levee.Permit{}, nil }

// BenchmarkEcho compares a bare Echo router with the same route behind a
// Gate given with the route. Echo applies middleware to every request, so
// "passthrough" (a middleware that does nothing) is what any middleware
// costs; "gate" measures Gate alone (a gate that admits for free),
// "breaker" adds a closed breaker's own cost.
func BenchmarkEcho(b *testing.B) {
	br, err := breaker.New(breaker.Config{OpenWait: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		mw   []echo.MiddlewareFunc
	}{
		{"bare", nil},
		{"passthrough", []echo.MiddlewareFunc{passThrough}},
		{"gate", []echo.MiddlewareFunc{leveeecho.Gate(nopGate{}, leveehttp.Options{})}},
		{"breaker", []echo.MiddlewareFunc{leveeecho.Gate(br, leveehttp.Options{})}},
	} {
		e := newEcho()
		e.GET("/users/:id", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }, bc.mw...)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := httptest.NewRecorder()
				req := httptest.NewRequest("GET", "/users/7", nil)
				for pb.Next() {
					e.ServeHTTP(w, req)
				}
			})
		})
	}
}
