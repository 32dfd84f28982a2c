module github.com/levee-go/levee/gateway

go 1.26.0

require (
	github.com/levee-go/levee v0.0.0
	github.com/levee-go/levee/observe v0.0.0
	go.yaml.in/yaml/v3 v3.0.5
)

replace github.com/levee-go/levee/observe => ../observe
