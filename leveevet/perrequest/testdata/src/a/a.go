package a

import (
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
)

// Flagged.

func handler(w http.ResponseWriter, r *http.Request) {
	b, _ := breaker.New(breaker.Config{Name: "db"}) // want `breaker.New builds a policy for every request`
	_ = b
}

type srv struct{}

func (srv) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := levee.New() // want `levee.New builds a policy for every request`
	_ = p
}

func ginHandler(c *gin.Context) {
	b, _ := breaker.New(breaker.Config{}) // want `breaker.New builds a policy for every request`
	_ = b
}

var literal = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := breaker.New(breaker.Config{}) // want `breaker.New builds a policy for every request`
	_ = b
})

// Clean.

var shared, _ = breaker.New(breaker.Config{Name: "db"})

func middleware(next http.Handler) http.Handler {
	b, _ := breaker.New(breaker.Config{Name: "once"}) // built once, when the middleware is
	_ = b
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = shared
		next.ServeHTTP(w, r)
	})
}

var (
	mu      sync.Mutex
	perHost = map[string]*breaker.Breaker{}
	factory sync.Map
)

func perKey(w http.ResponseWriter, r *http.Request) {
	mu.Lock()
	defer mu.Unlock()
	if _, ok := perHost[r.Host]; !ok {
		perHost[r.Host], _ = breaker.New(breaker.Config{Name: r.Host})
	}
	get := func() *breaker.Breaker {
		b, _ := breaker.New(breaker.Config{Name: r.Host})
		return b
	}
	factory.LoadOrStore(r.Host, get)
}

func notAPolicy(w http.ResponseWriter, r *http.Request) {
	_ = breaker.NewConfigError()
	_ = levee.NewPanicError(r)
}

func waived(w http.ResponseWriter, r *http.Request) {
	//leveevet:ignore perrequest a throwaway breaker to show its defaults
	b, _ := breaker.New(breaker.Config{})
	_ = b
}
