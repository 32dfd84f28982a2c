package leveeecho_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/levee-go/levee/leveeecho"
	"github.com/levee-go/levee/leveehttp"
	"github.com/levee-go/levee/ratelimit"
)

// A keyed rate limit per route template and client on an Echo instance:
// the third request in a minute gets 429 with Retry-After and the IETF
// fields.
func ExampleRateLimit() {
	lim, _ := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: ratelimit.PerMinute(2), Burst: 2})
	perClientRoute := func(c echo.Context) string { return leveeecho.KeyClientIP(c) + " " + leveeecho.KeyRoute(c) }

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.Recover(), leveeecho.RateLimit(lim, perClientRoute, leveehttp.RateLimitOptions{}))
	e.GET("/users/:id", func(c echo.Context) error { return c.String(http.StatusOK, "user "+c.Param("id")) })
	srv := httptest.NewServer(e)
	defer srv.Close()

	for _, id := range []string{"1", "2", "3"} {
		resp, err := http.Get(srv.URL + "/users/" + id)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %q Retry-After=%q\n", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	// Output:
	// 200 "user 1" Retry-After=""
	// 200 "user 2" Retry-After=""
	// 429 "rate limited\n" Retry-After="30"
}
