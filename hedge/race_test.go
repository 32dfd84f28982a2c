//go:build race

package hedge_test

// raceEnabled: the race detector changes allocation counts (sync.Pool
// drops items at random), so allocation pins skip under it.
const raceEnabled = true
