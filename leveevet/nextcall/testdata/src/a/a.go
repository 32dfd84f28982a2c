package a

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
)

func allowed(r *http.Request) bool { return r.Header.Get("X-Key") != "" }

// Flagged.

func forgetsOnDeny(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed(r) {
			return // want `this path returns without calling next.ServeHTTP or writing a response`
		}
		next.ServeHTTP(w, r)
	})
}

func forgetsEverywhere(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Print(r.URL.Path)
	}) // want `this path returns without calling next.ServeHTTP`
}

func headerOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.Header().Set("Allow", "GET")
			return // want `this path returns without calling next.ServeHTTP`
		}
		next.ServeHTTP(w, r)
	})
}

type mw struct{ on bool }

func (m mw) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case m.on:
			next.ServeHTTP(w, r)
		case r.URL.Path == "/":
			// falls out of the switch and returns
		default:
			http.NotFound(w, r)
		}
	}) // want `this path returns without calling next.ServeHTTP`
}

var literal = func(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, c := range r.Cookies() {
			if c.Name == "block" {
				return // want `this path returns without calling next.ServeHTTP`
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Clean.

func passes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed(r) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func deferredNext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { next.ServeHTTP(w, r) }()
		if !allowed(r) {
			return
		}
		log.Print("allowed")
	})
}

func deferredNextDirect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer next.ServeHTTP(w, r)
		if r.Method == http.MethodHead {
			return
		}
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func helperWrites(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed(r) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "no key"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writesDirectly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.WriteHeader(http.StatusOK)
			return
		case "/version":
			fmt.Fprintln(w, "v1")
			return
		}
		next.ServeHTTP(w, r)
	})
}

type recorder struct {
	http.ResponseWriter
	code int
}

func wrapsWriter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		log.Print(rec.code)
	})
}

func neverReturns(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Crash") != "" {
			panic("crash requested")
		}
		if r.Header.Get("X-Exit") != "" {
			os.Exit(1)
		}
		next.ServeHTTP(w, r)
	})
}

func passThrough(next http.Handler) http.Handler {
	if next == nil {
		return http.NotFoundHandler()
	}
	return next
}

// A handler that is not the middleware's own (neither returned nor using
// next) is not judged.
func unrelatedHandler(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ping", func(w http.ResponseWriter, r *http.Request) {})
	mux.Handle("/", next)
	return mux
}

// Not a middleware: plain handlers are out of scope.
func handler(w http.ResponseWriter, r *http.Request) {}
