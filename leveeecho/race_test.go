//go:build race

package leveeecho_test

const raceEnabled = true
