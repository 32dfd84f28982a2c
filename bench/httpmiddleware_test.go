package bench

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	fscb "github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	fsrl "github.com/failsafe-go/failsafe-go/ratelimiter"

	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/leveehttp"
	"github.com/levee-go/levee/ratelimit"
)

// HTTPMiddleware: one request through server middleware made of a rate
// limiter (admitting: 1e9/s, burst 1e6) and a circuit breaker (count window
// of 100, trip at 50%), around a handler that writes 200. The writer and the
// request are reused so the figure measures the middleware, not net/http.
// sentinel-golang's net/http adapter is not measured: the module proxy this
// project builds from refuses sentinel-golang.

// nopWriter is a reusable ResponseWriter.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(int)             {}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })

type middlewareImpl struct {
	name string
	new  func(tb testing.TB) http.Handler
}

func middlewareImpls() []middlewareImpl {
	return []middlewareImpl{
		{"bare", func(testing.TB) http.Handler { return okHandler }},
		{"levee", func(tb testing.TB) http.Handler {
			// leveehttp.Gate around each gate: the allocation-free path that
			// admits, serves and records the status as the outcome.
			lim, err := ratelimit.NewGCRA(ratelimit.Config{Rate: ratelimit.PerSecond(1e9), Burst: 1e6})
			if err != nil {
				tb.Fatal(err)
			}
			b, err := breaker.New(breaker.Config{WindowSize: 100, FailureRate: 50})
			if err != nil {
				tb.Fatal(err)
			}
			return leveehttp.Gate(lim, leveehttp.Options{})(leveehttp.Gate(b, leveehttp.Options{})(okHandler))
		}},
		{"failsafe", func(testing.TB) http.Handler {
			// failsafehttp.NewHandlerWithExecutor with an executor built
			// once: failsafe-go's server-side adapter at its cheapest (the
			// executor is not rebuilt per request). Bursty limiter and
			// count-window breaker as configured for Levee.
			rl := fsrl.NewBursty[*http.Response](1e9, time.Second)
			cb := fscb.NewBuilder[*http.Response]().WithFailureThresholdRatio(50, 100).Build()
			return failsafehttp.NewHandlerWithExecutor(okHandler, failsafe.With(rl, cb))
		}},
	}
}

func BenchmarkHTTPMiddleware(b *testing.B) {
	for _, im := range middlewareImpls() {
		b.Run(im.name, func(b *testing.B) {
			h := im.new(b)
			w := &nopWriter{h: http.Header{}}
			r := httptest.NewRequest("GET", "/", nil)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}

func BenchmarkHTTPMiddlewareParallel(b *testing.B) {
	for _, im := range middlewareImpls() {
		b.Run(im.name, func(b *testing.B) {
			h := im.new(b)
			r := httptest.NewRequest("GET", "/", nil)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := &nopWriter{h: http.Header{}}
				for pb.Next() {
					h.ServeHTTP(w, r)
				}
			})
		})
	}
}

// TestMiddlewareSettings checks every implementation admits requests and
// lets the handler answer, so no figure measures a refusal.
func TestMiddlewareSettings(t *testing.T) {
	for _, im := range middlewareImpls() {
		t.Run(im.name, func(t *testing.T) {
			h := im.new(t)
			for i := range 1000 {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				if rec.Code != http.StatusOK {
					t.Fatalf("request %d answered %d, want 200", i, rec.Code)
				}
			}
		})
	}
}
