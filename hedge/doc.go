// Package hedge cuts tail latency with hedged requests: when an attempt is
// slow, another starts, and the first acceptable answer wins.
//
// A [Hedger] is a [github.com/levee-go/levee.Wrapper]: its stage,
// [github.com/levee-go/levee.StageHedge], puts it inside retry and outside
// breakers and limits. After a delay, fixed or a live percentile of recent
// latencies ([Config.Percentile]), it starts another attempt, up to
// [Config.MaxHedges]. The first result that is neither a failure nor a
// rejection wins; the other attempts' contexts are cancelled and their
// goroutines exit as soon as the call honours its context. Latencies are
// kept in a small lock-free reservoir.
//
// Hedges can draw from the same [Budget] as retries, so that together they
// cannot multiply load on a struggling dependency: the budgets of package
// retry satisfy it.
//
// A call that answers before the delay costs two allocations: the
// attempts' context and the first attempt's goroutine; the channel and the
// timer are pooled.
//
// Hedge only idempotent calls: a hedged call may run more than once.
package hedge
