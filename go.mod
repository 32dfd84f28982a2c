module github.com/levee-go/levee

go 1.26
