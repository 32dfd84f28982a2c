// Package recorder captures the moment things go wrong: it keeps Go's
// execution-trace flight recorder (runtime/trace.FlightRecorder) running
// and, when a chosen Levee event arrives — a panic, a breaker opening, an
// SLO's fast-burn alert starting, a shedder raising its level, a Redis
// limiter falling back — writes one snapshot directory holding the
// execution trace of the last seconds, a goroutine dump, a heap profile and
// a JSON manifest naming the event. By the time someone looks, the evidence
// is still there: `go tool trace <dir>/trace.out` opens it as is.
//
// Snapshots are bounded so that trouble cannot turn into more trouble: at
// most one per [Config.Interval] (a storm of trips writes one), the
// directory capped in bytes and count (oldest removed first), and the
// triggering call never blocked — [Recorder.Listener] only queues to one
// writer goroutine and drops, counting, when its small queue is full. The
// snapshot's id is logged (slog, "levee: snapshot written"), returned by
// [Recorder.LastID], passed to [Config.OnSnapshot], and written into the
// trace itself as a runtime/trace log on the triggering goroutine.
//
// [Recorder.Handler] serves the snapshots for an admin listener: a JSON
// list and the files for download.
//
// The Go runtime allows one flight recorder per process, so a process has
// one Recorder.
package recorder
