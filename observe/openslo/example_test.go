package openslo_test

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/levee-go/levee/observe/openslo"
	"github.com/levee-go/levee/slo"
)

// Reading the SLOs of a service from an OpenSLO file and tracking them in
// process.
func ExampleDecode() {
	const doc = `
apiVersion: openslo/v1
kind: SLO
metadata:
  name: search
spec:
  service: web-shop
  indicator:
    metadata:
      name: search-latency
    spec:
      thresholdMetric:
        metricSource:
          type: Prometheus
          spec:
            query: histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))
  timeWindow:
    - duration: 7d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - displayName: Fast
      op: lte
      value: 0.3
      target: 0.95
    - displayName: Under a second
      op: lte
      value: 1
      targetPercent: 99.5
`
	cfgs, err := openslo.Decode(strings.NewReader(doc))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, cfg := range cfgs {
		s, err := slo.New(cfg)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: %g of events within %v over %v\n", s.Name(), cfg.Objective, cfg.Latency, cfg.Window)
	}
	// Output:
	// search-fast: 0.95 of events within 300ms over 168h0m0s
	// search-under-a-second: 0.995 of events within 1s over 168h0m0s
}

// Publishing the SLOs a service tracks, for tools that read OpenSLO.
func ExampleEncode() {
	err := openslo.Encode(os.Stdout, "web-shop",
		slo.Config{Name: "checkout", Objective: 0.999, Window: 28 * 24 * time.Hour},
	)
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// apiVersion: openslo/v1
	// kind: SLO
	// metadata:
	//   name: checkout
	// spec:
	//   description: 99.9% of events succeed, over a rolling 28d.
	//   service: web-shop
	//   indicator:
	//     metadata:
	//       name: checkout-sli
	//     spec:
	//       ratioMetric:
	//         counter: true
	//         good:
	//           metricSource:
	//             type: Prometheus
	//             spec:
	//               query: sum(levee_slo_events_total{slo="checkout",good="true"})
	//         total:
	//           metricSource:
	//             type: Prometheus
	//             spec:
	//               query: sum(levee_slo_events_total{slo="checkout"})
	//   timeWindow:
	//     - duration: 28d
	//       isRolling: true
	//   budgetingMethod: Occurrences
	//   objectives:
	//     - displayName: availability
	//       target: 0.999
}
