// Package lostpermit defines an Analyzer that reports Levee permits that
// are not settled on every path, the way vet's lostcancel reports context
// cancel functions. See [Doc].
package lostpermit
