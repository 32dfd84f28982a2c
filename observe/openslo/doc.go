// Package openslo reads and writes Levee's SLOs as OpenSLO v1 YAML, so the
// objectives a service enforces in process can be kept in, or published to,
// the same files as the rest of an organisation's SLOs.
//
// [Decode] maps each objective of each kind: SLO object in a YAML stream to
// one [slo.Config]:
//
//   - metadata.name → Name; an SLO with several objectives gives one config
//     per objective, named <name>-<objective> where <objective> is the
//     objective's displayName in lower case with other characters than
//     letters and digits turned into '-', or its index when it has none;
//   - objectives[].target → Objective (targetPercent is divided by 100);
//   - spec.timeWindow, one rolling window (isRolling: true) whose duration
//     is a whole number of m, h, d or w → Window;
//   - an indicator with a ratioMetric → an availability SLI (Latency zero);
//   - an indicator with a thresholdMetric, with an objective whose op is lte
//     or lt and whose value is a latency in seconds → Latency. Levee counts
//     an event good when its latency is at most Latency, so lt reads as lte.
//
// The indicator is inline (spec.indicator or an objective's indicator) or
// named by indicatorRef after a kind: SLI object anywhere in the stream.
// Objects of other kinds (Service, AlertPolicy, DataSource, …) are skipped.
// A missing budgetingMethod is read as Occurrences. The metric queries are
// not read: Levee counts its own events.
//
// Not supported, and refused with an error that names the line and the
// path of the field: API versions other than openslo/v1 on an SLO or on an
// SLI it refers to; calendar-aligned windows and windows of months,
// quarters or years; budgeting methods other than Occurrences (Timeslices,
// RatioTimeslices); threshold operators other than lte and lt. Errors match
// [ErrUnsupported] for these and [ErrInvalid] for documents that are
// malformed or out of range, such as a missing target or one outside (0, 1).
//
// [Encode] writes the reverse: one SLO document per config, over the
// Prometheus series the observe module exports, which [Decode] reads back to
// the same Name, Objective, Window and Latency. The threshold metric of a
// latency SLO is a quantile of the latency histogram, the nearest a single
// metric comes to Levee's count of fast events; [Encode] says more.
// Alerts, Bucket, MinEvents and Good have no OpenSLO counterpart and are
// neither written nor read; a decoded config whose Window is shorter than
// the longest of its Alerts' windows (three days for [slo.DefaultAlerts])
// needs Alerts set before [slo.New] accepts it.
package openslo
