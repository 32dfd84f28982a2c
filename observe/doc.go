// Package observe turns the events and outcomes of Levee's policies into
// Prometheus metrics, OpenTelemetry metrics and span events, and slog lines.
//
// Every policy reports what it does as [levee.Event] values to listeners
// registered with its OnEvent method. This package provides the listeners:
//
//   - [Metrics.Listener] updates Prometheus collectors, all prefixed levee_,
//     in base units, with bounded labels (policy, name, state, reason,
//     outcome: never paths, addresses or user ids). [Metrics.Register] adds
//     it to a policy and exports the policy's current state at once, so a
//     breaker that has never changed state is visible from the start.
//   - [OTel.Listener] records the same counts as OpenTelemetry metrics and
//     adds span events (rejections, retries, fallbacks, hedges, panics) to
//     the span active on the call's context.
//   - [Slog] writes one structured line per state change and panic, and
//     summarises bursts of rejections instead of logging each one.
//
// [Metrics.Requests] is a gate that records each call's latency and outcome
// (levee_request_duration_seconds, levee_requests_total), and [Metrics.SLO]
// one that counts the events of an SLO kept only in Prometheus
// (levee_slo_events_total), for pipelines and HTTP middleware alike.
// [SLOCollector] exports the counts of in-process SLOs (package slo) as the
// same series, on the same registry as Metrics; count each SLO one way only.
//
// For a reverse proxy (Levee's gateway), [ProxyMetrics] keeps requests by
// route, status class and reason, their duration and requests per target
// on a registry of its own with the policy metrics, served by its Handler;
// [HTTPTracing] makes a server span per request, continuing the caller's
// W3C trace context and passing it on, and exports spans over OTLP/HTTP.
//
// [RuntimeCollector] exports the Go runtime's scheduling latency and GC
// pause distributions and heap goal with the usual Go collector, and
// [RuntimeSLI] feeds an SLO from such a distribution (the p99 of each
// second), so that a latency objective can tell slow code from a runtime
// starved of CPU.
//
// [ConnMetrics] keeps the health of a client's connection pools per
// upstream host (reuse, DNS, dial, TLS and first-byte timings, dials and
// open connections), fed by a leveehttp Transport's events or by
// [ConnMetrics.WithTrace] in any other client.
//
// Make Metrics with [NewMetrics] and OTel with [NewOTel]: their zero values
// record nothing, and never panic.
//
// The folder also ships a Grafana dashboard (dashboards/levee.json) and
// Prometheus alert rules (alerts/levee.rules.yml); a test checks that every
// metric they use is one this package exports. Beside them are the
// gateway's (dashboards/levee-gateway.json, alerts/levee-gateway.rules.yml),
// checked by the gateway's tests against a running gateway's /metrics.
//
// This module is the only part of Levee that imports Prometheus or
// OpenTelemetry.
package observe
