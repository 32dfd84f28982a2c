// Package deadrecover defines an Analyzer that reports recover calls that
// can never stop a panic: defer recover(), recover in a helper called (not
// deferred) from a deferred closure, recover in a function literal that is
// called rather than deferred, and a deferred recover in a function whose
// go func literals start goroutines it cannot protect. See [Doc].
package deadrecover
