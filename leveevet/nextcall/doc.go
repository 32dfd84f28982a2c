// Package nextcall defines an Analyzer that reports paths through an
// http middleware's handler that return without calling the next handler
// and without writing a response. See [Doc].
package nextcall
