// Package cli implements the levee command: its subcommands (serve, validate,
// version, help), flags, output and exit statuses. The command's main, in
// gateway/cmd/levee, only calls [Run], so tests drive the whole command in
// process.
package cli
