// Package gin is the part of gin the tests need.
package gin

type Context struct{}
