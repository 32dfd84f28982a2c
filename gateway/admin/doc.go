// Package admin is the gateway's admin API: health probes, metrics and
// pprof, the running configuration (read, replace with If-Match, history,
// rollback, reload), the live state of routes, upstreams and targets, and
// run-time actions (force a breaker, change a limit, inject a fault, drain
// a target), all as JSON with errors as application/problem+json. The
// OpenAPI 3.1 document of every endpoint is openapi.json, served at
// /openapi.json.
//
// The API listens on its own address, loopback by default. Beyond
// loopback it requires a bearer token or client certificates ([Auth]);
// the probes /livez, /readyz and /startupz never do. Every request that
// changes something is recorded in an audit log ([AuditRecord]): who, from
// where, what, the configuration hash before and after, and the result.
//
// The configuration endpoints drive a [Controller]; the state and actions
// endpoints work on the controller's current runtime, fetched per
// request, so they follow reloads. Actions belong to the runtime they were
// made on: a reload starts from the configuration again.
package admin
