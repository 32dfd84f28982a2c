// Package leveevet gathers static checks for resilience bugs that take
// services down and that a machine can find in the source:
//
//   - clienttimeout: HTTP clients whose requests can hang forever;
//   - deadrecover: recover calls that can never stop a panic;
//   - handlergo: goroutines started by HTTP handlers without a recover;
//   - lostpermit: Levee permits not settled on every path;
//   - nextcall: middleware paths that neither call next nor respond;
//   - perrequest: Levee policies built inside request handlers.
//
// Each analyzer lives in its own package for use with go/analysis drivers;
// [Analyzers] lists them all, and cmd/levee-vet runs them, alone or as
// go vet -vettool=$(which levee-vet).
package leveevet
