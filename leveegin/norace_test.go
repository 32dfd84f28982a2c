//go:build !race

package leveegin_test

const raceEnabled = false
