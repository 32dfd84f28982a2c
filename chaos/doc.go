// Package chaos injects faults into calls, to prove that the policies
// around a dependency and the service itself cope when it misbehaves.
//
// An [Injector] is a [levee.Gate] at [levee.StageChaos], innermost in a
// pipeline, where it stands in for the dependency: it can delay a call
// (fixed or in a range, on an injectable clock, cut short by the caller's
// context), fail it with an error, answer it with an HTTP status or gRPC
// code that adapters turn into a response ([StatusError]), or make it
// panic. Each [Fault] applies to a percentage of calls, optionally only to
// those whose context matches ([MatchValue], [MatchTag]); a seed makes the
// choices repeat for tests.
//
// Faults are switched on and off and replaced at run time
// ([Injector.Enable], [Injector.Disable], [Injector.Set]) without
// rebuilding the pipeline; switched off, an injector costs one atomic load
// per call.
package chaos
