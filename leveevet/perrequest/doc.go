// Package perrequest defines an Analyzer that reports Levee policies built
// inside a request handler, where they live for one request and protect
// nothing. See [Doc].
package perrequest
