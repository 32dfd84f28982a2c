module github.com/levee-go/levee/gateway

go 1.26.0

require (
	github.com/chromedp/chromedp v0.23.1
	github.com/levee-go/levee v0.0.0
	github.com/levee-go/levee/observe v0.0.0
	github.com/levee-go/levee/redislimit v0.0.0
	github.com/redis/go-redis/v9 v9.23.0
	go.yaml.in/yaml/v3 v3.0.5
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/chromedp/cdproto v0.160.1 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	go.uber.org/atomic v1.12.0 // indirect
)

replace github.com/levee-go/levee/observe => ../observe
