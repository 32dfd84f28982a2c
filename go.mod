module github.com/levee-go/levee

go 1.26

require github.com/cloudflare/tableflip v1.2.3
