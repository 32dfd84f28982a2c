//go:build !windows

package lifecycle

import (
	"os"
	"syscall"
)

// defaultUpgradeSignals are SIGHUP and SIGUSR2, the signals nginx, HAProxy
// and most tableflip users upgrade on.
var defaultUpgradeSignals = []os.Signal{syscall.SIGHUP, syscall.SIGUSR2}
