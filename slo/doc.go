// Package slo tracks service level objectives and their error budgets in
// process, so that protection can react to the budget while it burns.
//
// # Model
//
// An [SLO] has a name, an SLI and an objective over a rolling window. The
// SLI classifies each recorded [levee.Outcome] as good or bad:
//
//   - availability (the default): good when the result is [levee.Success];
//   - latency ([Config.Latency] > 0): good when the latency is at most the
//     threshold; several thresholds are several SLOs, fed together by a
//     [Group];
//   - or any predicate over the outcome ([Config.Good]).
//
// [levee.Ignored] outcomes are not counted at all. The objective is the
// fraction of counted events that must be good (default 99.9%) over the
// window (default 30 days).
//
// Feed it with [SLO.Record] (or [SLO.RecordAt]) from wherever outcomes are
// known, or put the SLO in a pipeline: it is a [levee.Gate] that admits every
// call and records its outcome and latency when the permit is settled.
//
// # Counting: constant memory, no allocation
//
// Events are counted in a ring of time buckets (default one minute, so
// 43,200 buckets for 30 days). Each bucket is one uint64 holding two 32-bit
// counters, good and total, so a record is one clock reading
// ([clock.Clock.Nanotime]) and one atomic add: no lock, no allocation,
// safe from any number of goroutines. While the SLO is started
// ([SLO.Start]) a timer moves the current bucket at each boundary and a
// record skips the clock: an atomic load and an atomic add, about 7 ns
// (BenchmarkRecordStarted) against about 30 ns with the clock read. A bucket holds at most 2^32−1 events
// (about 71 million a second with one-minute buckets).
//
// Memory is fixed when the SLO is made and does not grow with traffic: 8
// bytes per bucket, 345,600 bytes of counters for the defaults. Measured
// (TestMemoryPerSLO), a default SLO takes about 351 KB of heap (351,156
// bytes: the counters rounded up to whole pages, plus the SLO itself), and
// ten million events over sixty days leave the heap where it was
// (TestConstantMemory). [SLO.Totals] keeps cumulative counts for exporters
// at no cost per event.
//
// Windows are measured in whole buckets, the current, partly filled one
// included: a five-minute window at 12:03:30 holds the events since 11:59.
//
// # Queries
//
// [SLO.SLI], [SLO.ErrorRatio], [SLO.BurnRate], [SLO.Budget],
// [SLO.TimeToExhaustion] and [SLO.Status] read the buckets (O(window) in
// buckets; one pass serves every window a call needs). The burn rate over a
// window is its error ratio divided by the one the objective allows
// (1 − objective): at 1 the budget lasts exactly the window. The budget is
// (1 − objective) × the events of the window; until the SLO has run for a
// whole window it is extrapolated from the traffic so far (see [Budget]), so
// a restart does not start with a spent budget. For 99.9% over 30 days, 1%
// errors burn at 10× and a full budget lasts 3 days.
//
// # Alerts
//
// [Config.Alerts] is a multi-window, multi-burn-rate table; the default
// ([DefaultAlerts]) is the SRE workbook's for 30 days: page when both 1h and
// 5m burn faster than 14.4×, or both 6h and 30m faster than 6×; ticket when
// both 1d and 2h burn faster than 3×, or both 3d and 6h faster than 1×. An
// alert fires only when its long window holds at least [Config.MinEvents]
// events (default 100), so one failure at night does not page. Alerts are
// evaluated on demand ([SLO.Evaluate]) or every [Config.EvalInterval]
// (default 30s) between [SLO.Start] and [SLO.Stop]; each start and stop is a
// [levee.EventStateChange] with Policy "slo" and the severity as Reason.
//
// # Using the budget
//
//   - [Gate] answers whether there is budget left for a risky change (a
//     deployment, a configuration reload).
//   - [SelfCheck] watches the SLOs for a period after a change and reports
//     pass or fail with the figures, so a reload can be rolled back.
//   - [Tightener] calls functions when the fast-burn alert starts and stops,
//     and offers a [Tightener.Pressure] from 0 to 1 to poll, so that retry
//     budgets, hedging and shedding (which this package does not import)
//     can tighten while the budget burns.
//
// # Prometheus
//
// [WritePrometheusRules] writes recording and alerting rules with the names
// sloth users know (slo:sli_error:ratio_rate5m, slo:error_budget:ratio, …)
// over the counter the observe module exports, [EventsMetric]:
// levee_slo_events_total{slo="<name>", good="true"|"false"}.
//
// Not done here: reading and writing OpenSLO documents, which needs a YAML
// library the core module does not take.
package slo
