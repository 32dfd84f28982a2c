package leveegin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/leveegin"
	"github.com/levee-go/levee/leveehttp"
)

// nopGate admits every call and needs no report: with it, a benchmark
// measures the middleware alone.
type nopGate struct{}

func (nopGate) Stage() levee.Stage                            { return levee.StageBreaker }
func (nopGate) Acquire(context.Context) (levee.Permit, error) { return levee.Permit{}, nil }

// BenchmarkGin compares a bare gin router with the same router behind a
// Gate: "gate" measures the middleware alone (a gate that admits for
// free), "breaker" adds a closed breaker's own cost.
func BenchmarkGin(b *testing.B) {
	br, err := breaker.New(breaker.Config{OpenWait: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		mw   []gin.HandlerFunc
	}{
		{"bare", nil},
		{"gate", []gin.HandlerFunc{leveegin.Gate(nopGate{}, leveehttp.Options{})}},
		{"breaker", []gin.HandlerFunc{leveegin.Gate(br, leveehttp.Options{})}},
	} {
		e := gin.New()
		e.Use(bc.mw...)
		e.GET("/users/:id", func(c *gin.Context) { c.Status(http.StatusNoContent) })
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
