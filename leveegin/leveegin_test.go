package leveegin_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/leveegin"
	"github.com/levee-go/levee/leveehttp"
	"github.com/levee-go/levee/ratelimit"
	"github.com/levee-go/levee/timelimit"
)

func init() { gin.SetMode(gin.TestMode) }

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

func serve(t *testing.T, e *gin.Engine) string {
	t.Helper()
	srv := httptest.NewServer(e)
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

// TestGateOpensOnServerErrorsAndRefuses drives a real breaker through gin:
// 5xx answers open it, 4xx do not count, and an open breaker answers 503
// with Retry-After and a problem body, without reaching the handler.
func TestGateOpensOnServerErrorsAndRefuses(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	b := newBreaker(t, clk)
	var runs atomic.Int64
	e := gin.New()
	e.Use(leveegin.Gate(b, leveehttp.Options{ProblemJSON: true}))
	e.GET("/status/:code", func(c *gin.Context) {
		runs.Add(1)
		code := map[string]int{"404": 404, "500": 500, "200": 200}[c.Param("code")]
		c.String(code, "answer")
	})
	url := serve(t, e)
	for range 3 {
		do(t, "GET", url+"/status/404")
	}
	if st := b.State(); st != breaker.Closed {
		t.Fatalf("after 404s the breaker is %v, want closed", st)
	}
	do(t, "GET", url+"/status/500")
	do(t, "GET", url+"/status/500")
	before := runs.Load()
	r := do(t, "GET", url+"/status/200")
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "10" {
		t.Fatalf("open breaker: %d Retry-After %q, want 503 and 10", r.status, r.header.Get("Retry-After"))
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want problem+json", ct)
	}
	var p struct{ Detail string }
	if err := json.Unmarshal([]byte(r.body), &p); err != nil || !strings.Contains(p.Detail, "circuit breaker open") {
		t.Errorf("problem body %q (%v), want the refusal's kind", r.body, err)
	}
	if runs.Load() != before {
		t.Errorf("the handler ran behind an open breaker")
	}
}

// TestKeyedByRouteTemplate rate-limits per route template: two paths of one
// route share a key, and the template is what the limiter sees.
func TestKeyedByRouteTemplate(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	lim, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: ratelimit.PerMinute(2), Burst: 2, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	key := func(c *gin.Context) string { k := leveegin.KeyRoute(c); keys = append(keys, k); return k }
	e := gin.New()
	e.Use(leveegin.Keyed(lim, key, leveehttp.Options{}))
	e.GET("/users/:id", func(c *gin.Context) { c.String(200, "user") })
	e.GET("/health", func(c *gin.Context) { c.String(200, "ok") })
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

// TestRateLimitFields checks the IETF fields on admitted and refused
// responses.
func TestRateLimitFields(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	lim, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: ratelimit.PerMinute(60), Burst: 1, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	b := newBreaker(t, clk)
	e := gin.New()
	e.Use(leveegin.Gate(b, leveehttp.Options{}), leveegin.RateLimit(lim, leveegin.KeyClientIP, leveehttp.RateLimitOptions{}))
	e.GET("/", func(c *gin.Context) { c.String(200, "ok") })
	url := serve(t, e)
	ok := do(t, "GET", url+"/")
	if ok.status != 200 || ok.header.Get("RateLimit-Policy") != `"default";q=60;w=60` || ok.header.Get("RateLimit") != `"default";r=0;t=1` {
		t.Errorf("admitted: %d RateLimit-Policy %q RateLimit %q", ok.status, ok.header.Get("RateLimit-Policy"), ok.header.Get("RateLimit"))
	}
	for range 3 {
		r := do(t, "GET", url+"/")
		if r.status != 429 || r.header.Get("Retry-After") != "1" || r.body != "rate limited\n" {
			t.Errorf("refused: %d Retry-After %q body %q, want 429, 1, rate limited", r.status, r.header.Get("Retry-After"), r.body)
		}
	}
	if st := b.State(); st != breaker.Closed {
		t.Errorf("429s from the limiter inside opened the breaker around it (%v)", st)
	}
}

// TestPanicReachesGinRecovery: a panic is a failure for the gate and gin's
// Recovery still answers 500.
func TestPanicReachesGinRecovery(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	b := newBreaker(t, clk)
	e := gin.New()
	e.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, _ any) { c.AbortWithStatus(500) }))
	e.Use(leveegin.Gate(b, leveehttp.Options{}))
	e.GET("/panic", func(c *gin.Context) { panic("boom") })
	url := serve(t, e)
	for range 2 {
		if r := do(t, "GET", url+"/panic"); r.status != 500 {
			t.Fatalf("panic answered %d, want gin's 500", r.status)
		}
	}
	if st := b.State(); st != breaker.Open {
		t.Errorf("after two panics the breaker is %v, want open (panics are failures)", st)
	}
}

// TestHandlerPipelineTimeLimit runs a pipeline with a time limit: the
// handler sees the deadline on its context and a refusal before it ran is
// a 504 problem.
func TestHandlerPipelineTimeLimit(t *testing.T) {
	tl, err := timelimit.New(timelimit.Config{Timeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p := levee.New(tl)
	e := gin.New()
	e.Use(leveegin.Handler(p, leveehttp.Options{}))
	e.GET("/deadline", func(c *gin.Context) {
		_, ok := c.Request.Context().Deadline()
		c.String(200, "%v", ok)
	})
	e.GET("/slow", func(c *gin.Context) {
		<-c.Request.Context().Done()
		c.Status(http.StatusGatewayTimeout)
	})
	url := serve(t, e)
	if r := do(t, "GET", url+"/deadline"); r.body != "true" {
		t.Errorf("handler saw deadline %q, want true", r.body)
	}
	if r := do(t, "GET", url+"/slow"); r.status != http.StatusGatewayTimeout {
		t.Errorf("slow handler = %d, want 504", r.status)
	}
}

func TestHandlerPipelineRefusal(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	b := newBreaker(t, clk)
	b.ForceOpen()
	var runs atomic.Int64
	e := gin.New()
	e.Use(leveegin.Handler(levee.New(b), leveehttp.Options{}))
	e.GET("/", func(c *gin.Context) { runs.Add(1); c.String(200, "ok") })
	url := serve(t, e)
	if r := do(t, "GET", url+"/"); r.status != http.StatusServiceUnavailable || runs.Load() != 0 {
		t.Errorf("forced-open pipeline: %d after %d runs, want 503 and no run", r.status, runs.Load())
	}
}

func TestPropagate(t *testing.T) {
	e := gin.New()
	e.Use(leveegin.Propagate(leveehttp.PropagateOptions{}))
	e.GET("/", func(c *gin.Context) {
		dl, ok := c.Request.Context().Deadline()
		left := time.Until(dl)
		c.String(200, "%v %v %v", ok, left > 0 && left <= 2*time.Second, levee.CriticalityFrom(c.Request.Context()))
	})
	url := serve(t, e)
	r := do(t, "GET", url+"/", "X-Request-Timeout", "2s", "X-Criticality", "sheddable")
	want := "true true " + levee.Sheddable.String()
	if r.body != want {
		t.Errorf("handler saw %q, want %q", r.body, want)
	}
}

func TestIdempotency(t *testing.T) {
	store, err := leveehttp.NewIdempotencyMemory(leveehttp.IdempotencyMemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int64
	e := gin.New()
	e.POST("/orders", leveegin.Idempotency(store, leveehttp.IdempotencyOptions{Required: true}), func(c *gin.Context) {
		n := runs.Add(1)
		c.Header("X-Order", "42")
		c.JSON(http.StatusCreated, gin.H{"run": n})
	})
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
	if runs.Load() != 1 {
		t.Errorf("handler ran %d times, want 1", runs.Load())
	}
}

// TestRefusalSeenByLeveehttpGate: a leveehttp gate wrapping the gin engine
// ignores the refusals of leveegin middleware inside.
func TestRefusalSeenByLeveehttpGate(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	outer := newBreaker(t, clk)
	inner := newBreaker(t, clk)
	inner.ForceOpen()
	e := gin.New()
	e.Use(leveegin.Gate(inner, leveehttp.Options{}))
	e.GET("/", func(c *gin.Context) { c.String(200, "ok") })
	srv := httptest.NewServer(leveehttp.Gate(outer, leveehttp.Options{})(e))
	defer srv.Close()
	for range 3 {
		if r := do(t, "GET", srv.URL+"/"); r.status != 503 {
			t.Fatalf("inner refusal = %d, want 503", r.status)
		}
	}
	if st := outer.State(); st != breaker.Closed {
		t.Errorf("the outer leveehttp breaker is %v after the inner refusals, want closed", st)
	}
}

func TestGateAllocations(t *testing.T) {
	b := newBreaker(t, clocktest.New(time.Unix(1_700_000_000, 0)))
	e := gin.New()
	e.Use(leveegin.Gate(b, leveehttp.Options{}))
	e.GET("/x", func(c *gin.Context) { c.Status(204) })
	w := httptest.NewRecorder()
	req := httptest.NewRequestWithContext(context.Background(), "GET", "/x", nil)
	bare := gin.New()
	bare.GET("/x", func(c *gin.Context) { c.Status(204) })
	base := testing.AllocsPerRun(200, func() { bare.ServeHTTP(w, req) })
	with := testing.AllocsPerRun(200, func() { e.ServeHTTP(w, req) })
	if with != base {
		t.Errorf("gin with Gate allocates %v per request, bare %v: want no more", with, base)
	}
}

func TestHandlerReturnPanics(t *testing.T) {
	p, err := levee.NewPipeline(levee.Config{ReturnPanics: true})
	if err != nil {
		t.Fatal(err)
	}
	e := gin.New()
	e.Use(leveegin.Handler(p, leveehttp.Options{}))
	e.GET("/panic", func(c *gin.Context) { panic("boom") })
	url := serve(t, e)
	if r := do(t, "GET", url+"/panic"); r.status != 500 {
		t.Errorf("panic in a ReturnPanics pipeline = %d, want 500", r.status)
	}
}

// TestStackedGatesIgnoreInnerRefusal: an inner gate's 503 refusals do not
// count against the gate around it.
func TestStackedGatesIgnoreInnerRefusal(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	outer, inner := newBreaker(t, clk), newBreaker(t, clk)
	inner.ForceOpen()
	e := gin.New()
	e.Use(leveegin.Gate(outer, leveehttp.Options{}), leveegin.Handler(levee.New(inner), leveehttp.Options{}))
	e.GET("/", func(c *gin.Context) { c.String(200, "ok") })
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
