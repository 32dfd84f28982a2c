package health_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/levee-go/levee/health"
)

// benchHealth has three interval (cached) checks, the usual production
// shape: a probe reads cached results and runs nothing.
func benchHealth(b *testing.B) *health.Health {
	h, _ := health.New(health.Config{})
	b.Cleanup(func() { h.Close() })
	for _, n := range []string{"db", "queue", "cache"} {
		h.Add(health.Check{Name: n, Interval: time.Hour, Func: func(context.Context) error { return nil }})
	}
	for !h.Check(context.Background(), health.Readiness).OK() {
		time.Sleep(time.Millisecond)
	}
	return h
}

func BenchmarkCheckCached(b *testing.B) {
	h := benchHealth(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h.Check(ctx, health.Readiness)
	}
}

func BenchmarkHandlerReadyz(b *testing.B) {
	hd := benchHealth(b).Handler()
	r := httptest.NewRequest("GET", "/readyz", nil)
	b.ReportAllocs()
	for b.Loop() {
		hd.ServeHTTP(httptest.NewRecorder(), r)
	}
}

func BenchmarkHandlerReadyzParallel(b *testing.B) {
	hd := benchHealth(b).Handler()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest("GET", "/readyz", nil)
		for pb.Next() {
			hd.ServeHTTP(httptest.NewRecorder(), r)
		}
	})
}
