//go:build race

package leveegin_test

const raceEnabled = true
