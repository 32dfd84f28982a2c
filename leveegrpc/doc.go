// Package leveegrpc adapts Levee's policies to gRPC: interceptors for
// clients and servers, unary and streaming, a tap handle that refuses calls
// before a stream is set up, status mapping with retry pushback, and
// criticality propagation.
//
// Rejections map to status codes as gRPC clients expect: a rate limit is
// RESOURCE_EXHAUSTED, an open breaker, shedding or a full bulkhead is
// UNAVAILABLE, a time limit is DEADLINE_EXCEEDED ([levee.StatusOf], the
// mapping leveehttp shares); a rejection that knows its wait sends it in the
// grpc-retry-pushback-ms trailer, in milliseconds rounded up
// ([levee.WaitUnits]) so clients do not come back early, or -1 (do not
// retry) for [levee.Never]. gRPC's own retry policy and Levee's client
// interceptor both honour it.
//
// Outcomes are classified from status codes ([ClassifyCode]): codes that say
// the server is unwell (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNKNOWN,
// DATA_LOSS, RESOURCE_EXHAUSTED) are failures; codes that say the request was
// wrong (INVALID_ARGUMENT, NOT_FOUND, …) are successes for the server's
// health; CANCELED is ignored.
//
// Deadlines travel natively in gRPC (grpc-timeout); criticality travels in
// the x-criticality metadata key.
//
// A fault injector acts through the same paths without being imported: an
// injected answer (a [levee.Fault], such as chaos.StatusError) becomes its
// status code ([CodeFor] and [Status], from [levee.StatusOf], the mapping
// leveehttp shares), on the server and in the client interceptor; an
// injected panic, which the injector returns as a [*levee.PanicError], is
// raised by the server gate interceptors as the handler's own panic would
// be, so the recovery interceptors answer INTERNAL, log and report it.
//
// This module is the only part of Levee that imports grpc-go.
package leveegrpc
