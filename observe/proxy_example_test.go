package observe_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/observe"
)

// A reverse proxy records each request by route, status class and the
// reason it answered itself, and exports its breakers' states from the
// start.
func ExampleProxyMetrics() {
	m, err := observe.NewProxyMetrics(observe.MetricsOptions{})
	if err != nil {
		panic(err)
	}
	b, _ := breaker.New(breaker.Config{Name: "orders"})
	m.Policies().Register(b)
	route := m.Route("api", "orders", []string{"breaker_open"})
	route.Observe(200, "", 12*time.Millisecond)          // the upstream answered
	route.Observe(503, "breaker_open", time.Microsecond) // the proxy answered itself

	srv := httptest.NewServer(m.Handler()) // mount it on /metrics
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "levee_gateway_requests_total{") || strings.HasPrefix(l, "levee_policy_state{") {
			fmt.Println(l)
		}
	}
	// Output:
	// levee_gateway_requests_total{reason="breaker_open",route="api",status_class="5xx",upstream="orders"} 1
	// levee_gateway_requests_total{reason="none",route="api",status_class="2xx",upstream="orders"} 1
	// levee_policy_state{name="orders",policy="breaker",state="closed"} 1
}
