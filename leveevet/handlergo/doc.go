// Package handlergo defines an Analyzer that reports go statements in HTTP
// handlers whose goroutines defer no recover, so that a panic in them
// would crash the process. See [Doc].
package handlergo
