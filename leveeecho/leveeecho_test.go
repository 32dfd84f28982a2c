package leveeecho_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/leveeecho"
	"github.com/levee-go/levee/leveehttp"
	"github.com/levee-go/levee/ratelimit"
	"github.com/levee-go/levee/timelimit"
)

type resp struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url string, hdr ...string) resp {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{r.StatusCode, r.Header, string(b)}
}

func newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(io.Discard)
	return e
}

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func newBreaker(t *testing.T, clk *clocktest.Fake) *breaker.Breaker {
	t.Helper()
	b, err := breaker.New(breaker.Config{ConsecutiveFailures: 2, OpenWait: 10 * time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGateOutcomesFromStatusAndErrors drives a real breaker through Echo:
// 4xx, written or returned as errors, do not count; 5xx do, whether written
// or returned (an echo.HTTPError or a plain error); an open breaker answers
// 503 with Retry-After and a problem body without reaching the handler.
func TestGateOutcomesFromStatusAndErrors(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	b := newBreaker(t, clk)
	var runs atomic.Int64
	e := newEcho()
	e.Use(leveeecho.Gate(b, leveehttp.Options{ProblemJSON: true}))
	e.GET("/written/404", func(c echo.Context) error { runs.Add(1); return c.String(404, "no") })
	e.GET("/error/404", func(c echo.Context) error { runs.Add(1); return echo.ErrNotFound })
	e.GET("/error/plain", func(c echo.Context) error { runs.Add(1); return errors.New("db down") })
	e.GET("/error/502", func(c echo.Context) error { runs.Add(1); return echo.NewHTTPError(502) })
	e.GET("/ok", func(c echo.Context) error { runs.Add(1); return c.String(200, "ok") })
	url := serve(t, e)
	for range 2 {
		do(t, "GET", url+"/written/404")
		if r := do(t, "GET", url+"/error/404"); r.status != 404 {
			t.Fatalf("returned ErrNotFound answered %d, want Echo's 404", r.status)
		}
	}
	if st := b.State(); st != breaker.Closed {
		t.Fatalf("after 404s the breaker is %v, want closed", st)
	}
	if r := do(t, "GET", url+"/error/plain"); r.status != 500 {
		t.Fatalf("plain error answered %d, want Echo's 500", r.status)
	}
	do(t, "GET", url+"/error/502")
	if st := b.State(); st != breaker.Open {
		t.Fatalf("after a returned error and a returned 502 the breaker is %v, want open", st)
	}
	before := runs.Load()
	r := do(t, "GET", url+"/ok")
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "10" || runs.Load() != before {
		t.Fatalf("open breaker: %d Retry-After %q, handler runs +%d; want 503, 10, none", r.status, r.header.Get("Retry-After"), runs.Load()-before)
	}
	var p struct{ Detail string }
	if err := json.Unmarshal([]byte(r.body), &p); err != nil || !strings.Contains(p.Detail, "circuit breaker open") {
		t.Errorf("problem body %q (%v), want the refusal's kind", r.body, err)
	}
}

func TestKeyedByRouteTemplate(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	lim, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: ratelimit.PerMinute(2), Burst: 2, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	key := func(c echo.Context) string { k := leveeecho.KeyRoute(c); keys = append(keys, k); return k }
	e := newEcho()
	e.GET("/users/:id", func(c echo.Context) error { return c.String(200, "user") }, leveeecho.Keyed(lim, key, leveehttp.Options{}))
	e.GET("/health", func(c echo.Context) error { return c.String(200, "ok") }, leveeecho.Keyed(lim, key, leveehttp.Options{}))
	url := serve(t, e)
	do(t, "GET", url+"/users/1")
	do(t, "GET", url+"/users/2")
	r := do(t, "GET", url+"/users/3")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "30" {
		t.Errorf("third request on the route: %d Retry-After %q, want 429 and 30", r.status, r.header.Get("Retry-After"))
	}
	if r := do(t, "GET", url+"/health"); r.status != 200 {
		t.Errorf("another route shares the key: %d", r.status)
	}
	if strings.Join(keys, ",") != "/users/:id,/users/:id,/users/:id,/health" {
		t.Errorf("keys = %q, want route templates, never raw paths", keys)
	}
}

func TestRateLimitFieldsAndStacking(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	lim, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: ratelimit.PerMinute(60), Burst: 1, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	b := newBreaker(t, clk)
	e := newEcho()
	e.Use(leveeecho.Gate(b, leveehttp.Options{}), leveeecho.RateLimit(lim, leveeecho.KeyClientIP, leveehttp.RateLimitOptions{}))
	e.GET("/", func(c echo.Context) error { return c.String(200, "ok") })
	url := serve(t, e)
	ok := do(t, "GET", url+"/")
	if ok.status != 200 || ok.header.Get("RateLimit-Policy") != `"default";q=60;w=60` || ok.header.Get("RateLimit") != `"default";r=0;t=1` {
		t.Errorf("admitted: %d RateLimit-Policy %q RateLimit %q", ok.status, ok.header.Get("RateLimit-Policy"), ok.header.Get("RateLimit"))
	}
	for range 3 {
		r := do(t, "GET", url+"/")
		if r.status != 429 || r.header.Get("Retry-After") != "1" || r.body != "rate limited\n" {
			t.Errorf("refused: %d Retry-After %q body %q", r.status, r.header.Get("Retry-After"), r.body)
		}
	}
	if st := b.State(); st != breaker.Closed {
		t.Errorf("429s from the limiter inside opened the breaker around it (%v)", st)
	}
}

func TestPanicReachesEchoRecover(t *testing.T) {
	b := newBreaker(t, clocktest.New(time.Unix(1_700_000_000, 0)))
	e := newEcho()
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisablePrintStack: true, DisableErrorHandler: false}))
	e.Use(leveeecho.Gate(b, leveehttp.Options{}))
	e.GET("/panic", func(c echo.Context) error { panic("boom") })
	url := serve(t, e)
	for range 2 {
		if r := do(t, "GET", url+"/panic"); r.status != 500 {
			t.Fatalf("panic answered %d, want Echo's 500", r.status)
		}
	}
	if st := b.State(); st != breaker.Open {
		t.Errorf("after two panics the breaker is %v, want open", st)
	}
}

func TestHandlerPipeline(t *testing.T) {
	tl, err := timelimit.New(timelimit.Config{Timeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e := newEcho()
	e.GET("/deadline", func(c echo.Context) error {
		_, ok := c.Request().Context().Deadline()
		return c.String(200, fmt.Sprint(ok))
	}, leveeecho.Handler(levee.New(tl), leveehttp.Options{}))
	b := newBreaker(t, clocktest.New(time.Unix(1_700_000_000, 0)))
	b.ForceOpen()
	var runs atomic.Int64
	e.GET("/open", func(c echo.Context) error { runs.Add(1); return c.String(200, "ok") }, leveeecho.Handler(levee.New(b), leveehttp.Options{}))
	url := serve(t, e)
	if r := do(t, "GET", url+"/deadline"); r.body != "true" {
		t.Errorf("handler saw deadline %q, want true", r.body)
	}
	if r := do(t, "GET", url+"/open"); r.status != 503 || runs.Load() != 0 {
		t.Errorf("forced-open pipeline: %d after %d runs, want 503 and no run", r.status, runs.Load())
	}
}

func TestPropagate(t *testing.T) {
	e := newEcho()
	e.Use(leveeecho.Propagate(leveehttp.PropagateOptions{}))
	e.GET("/", func(c echo.Context) error {
		ctx := c.Request().Context()
		dl, ok := ctx.Deadline()
		left := time.Until(dl)
		return c.String(200, fmt.Sprint(ok, left > 0 && left <= 2*time.Second, levee.CriticalityFrom(ctx)))
	})
	url := serve(t, e)
	r := do(t, "GET", url+"/", "X-Request-Timeout", "2s", "X-Criticality", "sheddable")
	if want := fmt.Sprint(true, true, levee.Sheddable); r.body != want {
		t.Errorf("handler saw %q, want %q", r.body, want)
	}
}

func TestIdempotency(t *testing.T) {
	store, err := leveehttp.NewIdempotencyMemory(leveehttp.IdempotencyMemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int64
	e := newEcho()
	idem := leveeecho.Idempotency(store, leveehttp.IdempotencyOptions{Required: true})
	e.POST("/orders", func(c echo.Context) error {
		n := runs.Add(1)
		c.Response().Header().Set("X-Order", "42")
		return c.JSON(http.StatusCreated, map[string]int64{"run": n})
	}, idem)
	e.POST("/invalid", func(c echo.Context) error {
		runs.Add(1)
		return echo.NewHTTPError(http.StatusBadRequest, "bad item")
	}, idem)
	url := serve(t, e)
	first := do(t, "POST", url+"/orders", "Idempotency-Key", `"k1"`)
	again := do(t, "POST", url+"/orders", "Idempotency-Key", `"k1"`)
	if first.status != 201 || again.status != 201 || again.body != first.body || again.header.Get("X-Order") != "42" ||
		again.header.Get("Content-Type") != first.header.Get("Content-Type") || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay = %d %q %v, first %d %q %v", again.status, again.body, again.header, first.status, first.body, first.header)
	}
	if r := do(t, "POST", url+"/orders"); r.status != 400 {
		t.Errorf("missing key = %d, want 400", r.status)
	}
	// An error Echo answers is stored and replayed as Echo answered it.
	bad1 := do(t, "POST", url+"/invalid", "Idempotency-Key", "k2")
	bad2 := do(t, "POST", url+"/invalid", "Idempotency-Key", "k2")
	if bad1.status != 400 || !strings.Contains(bad1.body, "bad item") || bad2.body != bad1.body || bad2.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("error answer %d %q, retry %d %q %q; want Echo's 400 stored and replayed", bad1.status, bad1.body, bad2.status, bad2.body, bad2.header.Get("Idempotent-Replayed"))
	}
	if runs.Load() != 2 {
		t.Errorf("handlers ran %d times, want 2", runs.Load())
	}
}

func TestRefusalSeenByLeveehttpGate(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	outer, inner := newBreaker(t, clk), newBreaker(t, clk)
	inner.ForceOpen()
	e := newEcho()
	e.Use(leveeecho.Gate(inner, leveehttp.Options{}))
	e.GET("/", func(c echo.Context) error { return c.String(200, "ok") })
	url := serve(t, leveehttp.Gate(outer, leveehttp.Options{})(e))
	for range 3 {
		if r := do(t, "GET", url+"/"); r.status != 503 {
			t.Fatalf("inner refusal = %d, want 503", r.status)
		}
	}
	if st := outer.State(); st != breaker.Closed {
		t.Errorf("the outer leveehttp breaker is %v after the inner refusals, want closed", st)
	}
}

// passThrough is the least an Echo middleware can be: Echo applies
// middleware to every request, so any middleware costs the closure it
// returns, and Gate must cost no more than that.
func passThrough(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error { return next(c) }
}

func TestGateAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	b := newBreaker(t, clocktest.New(time.Unix(1_700_000_000, 0)))
	h := func(c echo.Context) error { return c.NoContent(204) }
	plain, gated := newEcho(), newEcho()
	plain.GET("/x", h, passThrough)
	gated.GET("/x", h, leveeecho.Gate(b, leveehttp.Options{}))
	w := httptest.NewRecorder()
	req := httptest.NewRequestWithContext(context.Background(), "GET", "/x", nil)
	base := testing.AllocsPerRun(200, func() { plain.ServeHTTP(w, req) })
	with := testing.AllocsPerRun(200, func() { gated.ServeHTTP(w, req) })
	if with != base {
		t.Errorf("Echo with Gate allocates %v per request, with a pass-through middleware %v: want no more", with, base)
	}
}

func TestHandlerReturnPanics(t *testing.T) {
	p, err := levee.NewPipeline(levee.Config{ReturnPanics: true})
	if err != nil {
		t.Fatal(err)
	}
	e := newEcho()
	e.GET("/panic", func(c echo.Context) error { panic("boom") }, leveeecho.Handler(p, leveehttp.Options{}))
	url := serve(t, e)
	if r := do(t, "GET", url+"/panic"); r.status != 500 {
		t.Errorf("panic in a ReturnPanics pipeline = %d, want Echo's 500", r.status)
	}
}

// TestStackedGatesIgnoreInnerRefusal: an inner gate's 503 refusals do not
// count against the gate around it.
func TestStackedGatesIgnoreInnerRefusal(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	outer, inner := newBreaker(t, clk), newBreaker(t, clk)
	inner.ForceOpen()
	e := newEcho()
	e.Use(leveeecho.Gate(outer, leveehttp.Options{}), leveeecho.Handler(levee.New(inner), leveehttp.Options{}))
	e.GET("/", func(c echo.Context) error { return c.String(200, "ok") })
	url := serve(t, e)
	for range 3 {
		if r := do(t, "GET", url+"/"); r.status != 503 {
			t.Fatalf("inner refusal = %d, want 503", r.status)
		}
	}
	if st := outer.State(); st != breaker.Closed {
		t.Errorf("the outer breaker is %v after the inner refusals, want closed", st)
	}
}
