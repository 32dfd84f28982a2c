//go:build windows

package server

import "os"

// upgradeSignals: nil keeps the lifecycle's default; Windows has no
// SIGUSR2, and binary upgrades are not available there.
var upgradeSignals []os.Signal
