package a

import (
	"context"
	"log"
	"net/http"
)

func work(r *http.Request) { log.Print(r.URL.Path) }

// Flagged.

func handler(w http.ResponseWriter, r *http.Request) {
	go func() { // want `goroutine started by an HTTP handler has no deferred recover`
		work(r)
	}()
	w.WriteHeader(http.StatusAccepted)
}

type srv struct{}

func (srv) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	go audit(r) // want `goroutine started by an HTTP handler has no deferred recover`
}

func audit(r *http.Request) { work(r) }

func register(mux *http.ServeMux) {
	mux.HandleFunc("/a", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			for range 2 {
				go func() { // want `goroutine started by an HTTP handler has no deferred recover`
					defer log.Print("done") // not a recover
					work(r)
				}()
			}
		}
	})
}

func nestedRecoverDoesNotCount(w http.ResponseWriter, r *http.Request) {
	go func() { // want `goroutine started by an HTTP handler has no deferred recover`
		func() {
			defer func() { recover() }()
		}()
		work(r)
	}()
}

// Clean.

func protected(w http.ResponseWriter, r *http.Request) {
	go func() {
		defer func() {
			if v := recover(); v != nil {
				log.Print(v)
			}
		}()
		work(r)
	}()
}

func logPanic() {
	if v := recover(); v != nil {
		log.Print(v)
	}
}

func protectedByHelper(w http.ResponseWriter, r *http.Request) {
	go func() {
		defer logPanic()
		work(r)
	}()
	go safeAudit(r)
}

func safeAudit(r *http.Request) {
	defer logPanic()
	work(r)
}

// Go stands for levee.Go: it recovers, so there is no go statement to judge.
func Go(fn func(), onPanic func(any)) {
	go func() {
		defer func() {
			if v := recover(); v != nil {
				onPanic(v)
			}
		}()
		fn()
	}()
}

func throughGo(w http.ResponseWriter, r *http.Request) {
	Go(func() { work(r) }, func(any) {})
}

// Not a handler: background workers are out of scope.
func background() {
	go func() { work(nil) }()
}

func otherPackage(w http.ResponseWriter, r *http.Request, l *log.Logger) {
	go l.Print("x") // another package's function: out of sight
}

func waitsOnly(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() { // only waits and cancels: nothing to recover
		select {
		case <-r.Context().Done():
			cancel()
		case <-ctx.Done():
		}
	}()
}
