//go:build race

package main

// raceEnabled reports a build with the race detector, which slows the
// loopback server too much for timing targets.
const raceEnabled = true
