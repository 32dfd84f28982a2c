package leveehttp_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/levee-go/levee/leveehttp"
)

func benchIdem(b *testing.B, key func(i int) string) {
	store, err := leveehttp.NewIdempotencyMemory(leveehttp.IdempotencyMemoryConfig{MaxEntries: 1 << 20, MaxBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	h := leveehttp.Idempotency(store, leveehttp.IdempotencyOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":42}`))
	}))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		req := httptest.NewRequest("POST", "/orders", strings.NewReader(`{"item":"book"}`))
		req.Header.Set("Idempotency-Key", key(i))
		h.ServeHTTP(httptest.NewRecorder(), req)
		i++
	}
}

// BenchmarkIdempotencyFirst is a first request: claim, run, store.
func BenchmarkIdempotencyFirst(b *testing.B) {
	benchIdem(b, func(i int) string { return "k" + strconv.Itoa(i) })
}

// BenchmarkIdempotencyReplay is a retry answered from the store.
func BenchmarkIdempotencyReplay(b *testing.B) {
	benchIdem(b, func(int) string { return "same" })
}

// BenchmarkIdempotencyBaseline is the same request without the middleware,
// for the ratio.
func BenchmarkIdempotencyBaseline(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":42}`))
	})
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/orders", strings.NewReader(`{"item":"book"}`))
		req.Header.Set("Idempotency-Key", "same")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}
