//go:build !windows

package server

import (
	"os"
	"syscall"
)

// upgradeSignals start a binary upgrade: SIGUSR2, as nginx has it, since
// SIGHUP reloads the configuration.
var upgradeSignals = []os.Signal{syscall.SIGUSR2}
