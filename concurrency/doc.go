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
// permit yourself. Admission without waiting costs two compare-and-swaps
// (the in-flight count, the permit's slot) and no allocation.
// [Bulkhead.SetLimit] changes the limit at run time; the
// adaptive limits of this package build on it.
//
// A [Limiter] is an adaptive limit: it admits a call while fewer than the
// limit are in flight and moves the limit by what an [Algorithm] learns
// from each sample window of completed calls (latency, and drops: a
// failure or a levee.ErrTimeout; ignored outcomes teach nothing). [AIMD]
// is loss-based (+1 per busy window, ×0.9 on a drop); [Vegas] estimates
// the queue from the no-load latency; [Gradient2] compares each window's
// latency with a long-term average (Netflix's concurrency-limits); and
// [Gradient] is Envoy's adaptive concurrency controller (periodic
// minimum-latency measurement with the limit pinned low, then
// limit·gradient + √(limit·gradient)). A limit never grows from a window
// in which fewer than half the limit were in flight, stays within its
// algorithm's bounds, and reports every change as levee.EventLimitChange.
// A refused call gets levee.ErrShed; an optional bounded queue (FIFO or
// LIFO, with a maximum wait) holds calls instead. Admission allocates
// nothing; the limit is updated under a lock once per window, from the
// [Adjustment] its algorithm returns.
//
// Both gates share one queue and one release path, and settle each permit
// once: a permit settled again, a permit of an earlier admission and one
// the gate never issued free nothing. Their zero values refuse every call
// with [ErrNotBuilt]; build them with [NewBulkhead] and [NewLimiter].
package concurrency
