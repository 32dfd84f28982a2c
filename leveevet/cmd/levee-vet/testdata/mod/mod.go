// Package mod has one bug per analyzer, for the go vet -vettool test.
package mod

import "net/http"

var client = &http.Client{}

func Logging(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/skip" {
			return
		}
		next.ServeHTTP(w, r)
	})
}

func Handler(w http.ResponseWriter, r *http.Request) {
	defer recover()
	go func() { _, _ = client.Get("http://127.0.0.1/") }()
}
