package leveegin_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/gin-gonic/gin"
	"github.com/levee-go/levee/leveegin"
	"github.com/levee-go/levee/leveehttp"
	"github.com/levee-go/levee/ratelimit"
)

// A keyed rate limit per route template and client on a gin engine: the
// third request in a minute gets 429 with Retry-After and the IETF fields.
func ExampleRateLimit() {
	gin.SetMode(gin.ReleaseMode)
	lim, _ := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: ratelimit.PerMinute(2), Burst: 2})
	perClientRoute := func(c *gin.Context) string { return leveegin.KeyClientIP(c) + " " + leveegin.KeyRoute(c) }

	e := gin.New()
	e.Use(gin.Recovery(), leveegin.RateLimit(lim, perClientRoute, leveehttp.RateLimitOptions{}))
	e.GET("/users/:id", func(c *gin.Context) { c.String(http.StatusOK, "user %s", c.Param("id")) })
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
