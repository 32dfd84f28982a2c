module github.com/levee-go/levee/leveevet

go 1.26.0

replace github.com/levee-go/levee => ../

require (
	github.com/golangci/plugin-module-register v0.1.2
	golang.org/x/tools v0.51.0
)

require (
	golang.org/x/mod v0.41.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
)
