package integration

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/leveehttp"
	"github.com/levee-go/levee/ratelimit"
)

// TestStackedHTTPGatesIgnoreRefusals sends a burst through a breaker gate
// around a rate limiter gate, over a real server: the limiter's refusals
// are 429s and 503s written by Levee, not the handler's answers, so the
// breaker must not count them and must stay closed. It does so for each way
// of stacking: Gate, Keyed, a Handler pipeline, and the RateLimit
// middleware.
func TestStackedHTTPGatesIgnoreRefusals(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	inners := []struct {
		name  string
		inner func(http.Handler) http.Handler
	}{
		{"Gate(limiter)", func(h http.Handler) http.Handler {
			lim := must(ratelimit.NewGCRA(ratelimit.Config{Rate: ratelimit.Rate{Events: 5, Per: time.Hour}}))
			return leveehttp.Gate(lim, leveehttp.Options{})(h)
		}},
		{"Gate(open breaker)", func(h http.Handler) http.Handler {
			open := must(breaker.New(breaker.Config{ConsecutiveFailures: 1, FailureRate: -1, OpenWait: time.Hour}))
			p, _ := open.Allow()
			p.Record(levee.Outcome{Result: levee.Failure})
			return leveehttp.Gate(open, leveehttp.Options{ProblemJSON: true})(h)
		}},
		{"Keyed(limiter)", func(h http.Handler) http.Handler {
			lim := must(ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: ratelimit.Rate{Events: 5, Per: time.Hour}}))
			return leveehttp.Keyed(lim, leveehttp.KeyRoute, leveehttp.Options{})(h)
		}},
		{"Handler(pipeline with limiter)", func(h http.Handler) http.Handler {
			lim := must(ratelimit.NewGCRA(ratelimit.Config{Rate: ratelimit.Rate{Events: 5, Per: time.Hour}}))
			return leveehttp.Handler(levee.New(lim), leveehttp.Options{})(h)
		}},
		{"RateLimit", func(h http.Handler) http.Handler {
			lim := must(ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: ratelimit.Rate{Events: 5, Per: time.Hour}}))
			return leveehttp.RateLimit(lim, nil, leveehttp.RateLimitOptions{})(h)
		}},
	}
	outers := []struct {
		name  string
		outer func(b *breaker.Breaker, h http.Handler) http.Handler
	}{
		{"Gate(breaker)", func(b *breaker.Breaker, h http.Handler) http.Handler {
			return leveehttp.Gate(b, leveehttp.Options{})(h)
		}},
		{"Gate(breaker counting 429)", func(b *breaker.Breaker, h http.Handler) http.Handler {
			return leveehttp.Gate(b, leveehttp.Options{Classify: overloaded})(h)
		}},
		{"Handler(pipeline with breaker counting 429)", func(b *breaker.Breaker, h http.Handler) http.Handler {
			return leveehttp.Handler(levee.New(b), leveehttp.Options{Classify: overloaded})(h)
		}},
		{"Gate(breaker) behind a plain wrapper", func(b *breaker.Breaker, h http.Handler) http.Handler {
			return leveehttp.Gate(b, leveehttp.Options{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h.ServeHTTP(&plainWriter{w}, r)
			}))
		}},
	}
	for _, o := range outers {
		for _, in := range inners {
			t.Run(o.name+" around "+in.name, func(t *testing.T) {
				b := must(breaker.New(breaker.Config{ConsecutiveFailures: 3, FailureRate: -1, OpenWait: time.Hour}))
				srv := httptest.NewServer(o.outer(b, in.inner(ok)))
				defer srv.Close()
				refused := 0
				for i := range 30 {
					resp, err := http.Get(srv.URL + "/burst")
					if err != nil {
						t.Fatalf("request %d: %v", i, err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					switch resp.StatusCode {
					case http.StatusOK:
					case http.StatusTooManyRequests, http.StatusServiceUnavailable:
						refused++
					default:
						t.Fatalf("request %d: status %d", i, resp.StatusCode)
					}
				}
				if refused < 20 {
					t.Fatalf("%d of 30 refused, want the burst refused by the inner gate", refused)
				}
				if st := b.State(); st != breaker.Closed {
					t.Errorf("breaker %v after a burst of %d inner refusals, want closed", st, refused)
				}
			})
		}
	}
}

// overloaded counts 429 as a failure as well as 5xx, as a service that
// answers 429 itself when it is overloaded would.
func overloaded(status int) levee.Result {
	if status >= 500 || status == http.StatusTooManyRequests {
		return levee.Failure
	}
	return levee.Success
}

// plainWriter is a wrapper that is not Levee's, with the Unwrap method
// http.ResponseController looks for.
type plainWriter struct{ http.ResponseWriter }

func (w *plainWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestStackedHTTPGatesCountHandlerFailures checks the other side: the
// handler's own 5xx still reach the outer breaker through the inner gate.
func TestStackedHTTPGatesCountHandlerFailures(t *testing.T) {
	b := must(breaker.New(breaker.Config{ConsecutiveFailures: 3, FailureRate: -1, OpenWait: time.Hour}))
	lim := must(ratelimit.NewGCRA(ratelimit.Config{Rate: ratelimit.Rate{Events: 1000, Per: time.Second}}))
	fail := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	srv := httptest.NewServer(leveehttp.Gate(b, leveehttp.Options{})(leveehttp.Gate(lim, leveehttp.Options{})(fail)))
	defer srv.Close()
	for i := range 3 {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("request %d: status %d, want 502", i, resp.StatusCode)
		}
	}
	if st := b.State(); st != breaker.Open {
		t.Errorf("breaker %v after 3 handler failures, want open", st)
	}
}
