// Package concurrency bounds how many calls run at once.
//
// A [Bulkhead] is a fixed limit: at most [BulkheadConfig.MaxConcurrent]
// calls run together, further calls wait in a bounded FIFO queue for a
// bounded time, and the rest are refused with [levee.ErrBulkheadFull] at
// once. It isolates a dependency, so that when it slows down it cannot take
// every goroutine, connection and file descriptor of the service with it.
//
// A Bulkhead is a [levee.Gate]: put it in a [levee.Pipeline] (its stage is
// [levee.StageConcurrency]), or call [Bulkhead.Acquire] and settle the
// permit yourself. Admission without waiting costs one compare-and-swap and
// no allocation. [Bulkhead.SetLimit] changes the limit at run time; the
// adaptive limits of this package build on it.
package concurrency
