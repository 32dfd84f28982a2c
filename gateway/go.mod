module github.com/levee-go/levee/gateway

go 1.26.0

require (
	github.com/fsnotify/fsnotify v1.10.1
	github.com/levee-go/levee v0.0.0
	github.com/levee-go/levee/observe v0.0.0
	github.com/levee-go/levee/redislimit v0.0.0
	github.com/redis/go-redis/v9 v9.23.0
	go.yaml.in/yaml/v3 v3.0.5
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
)

replace github.com/levee-go/levee/observe => ../observe
