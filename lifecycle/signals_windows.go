//go:build windows

package lifecycle

import (
	"os"
	"syscall"
)

// defaultUpgradeSignals: Windows has no SIGUSR2, and tableflip does not
// support Windows (New reports it when upgrades are enabled).
var defaultUpgradeSignals = []os.Signal{syscall.SIGHUP}
