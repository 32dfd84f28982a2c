// Package cli implements the levee command: its subcommands (serve, validate,
// demo, slo gate, version, help), flags, output and exit statuses; slo gate
// is the error-budget gate for deploys described in docs/slo-gate.md. The
// command's main, in gateway/cmd/levee, only calls [Run], so tests drive the
// whole command in process.
package cli
