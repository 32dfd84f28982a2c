package config_test

import (
	"errors"
	"fmt"

	"github.com/levee-go/levee/gateway/config"
)

func ExampleParse() {
	src := `
listeners:
  - name: public
    address: ":8080"
upstreams:
  - name: orders
    targets: [{url: "127.0.0.1:9001"}]
routes:
  - name: orders
    upstream: ordrs
    timeout: 2s
    policies:
      retry: {attempts: 0, per_try_timeout: 2s}
      rate_limit: {rate: 100/s, burts: 10}
`
	_, err := config.Parse([]byte(src), config.Options{})
	var problems config.Problems
	if errors.As(err, &problems) {
		for _, p := range problems {
			fmt.Println(p)
		}
	}
	// Output:
	// routes[0].upstream: no upstream is named "ordrs" (line 10:15)
	// routes[0].policies.retry.attempts: must be ≥ 1 (line 13:25)
	// routes[0].policies.retry.per_try_timeout: must be shorter than the route timeout (2s) (line 13:45)
	// routes[0].policies.rate_limit.burts: unknown field "burts" (did you mean "burst"?) (line 14:33)
}

func ExampleParseRate() {
	r, err := config.ParseRate("6000/m")
	fmt.Println(r.Count, r.Per, r.PerSecond(), err)
	// Output: 6000 1m0s 100 <nil>
}
