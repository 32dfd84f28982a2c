// Package server runs a gateway configuration: it compiles it with
// gateway/proxy, listens on every configured listener, serves the health
// probes on the admin address, and stops gracefully through the lifecycle
// package (readiness off, drain, shutdown) on SIGTERM or SIGINT.
package server
