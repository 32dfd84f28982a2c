package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/gateway/server"
	"github.com/levee-go/levee/lifecycle"
)

const serveUsage = `Usage: levee serve -c FILE [flags]

Runs the gateway: loads and checks FILE (exit status 2 with every problem
when it is not valid), listens on its listeners, serves /livez, /readyz
and /startupz on the admin address, and logs JSON lines to stderr.

On SIGTERM or SIGINT it stops gracefully: readiness fails at once, the
listeners go on serving for the drain delay (answering with
"Connection: close"), then stop accepting and let requests in flight
finish. A second signal stops at once. The exit status is 0 after a clean
shutdown and 1 when serving failed or requests were cut off.

On SIGHUP, and when FILE changes (unless reload.watch is false), it
reloads the configuration without dropping a request: the new document is
checked, built beside the running one, warmed, swapped in atomically, and
watched by its self-check, which rolls it back when it harms the
service. A configuration that is not valid, or whose new targets never
pass a health check, never replaces the running one; the log says why.

On SIGUSR2 it upgrades without downtime: it starts its binary
again (the file now at its path, so a new version once replaced) with the
same arguments, and the new process inherits the listening sockets and
reads the configuration afresh. Once the new process is ready, the old one
goes on serving for the drain delay, answering with "Connection: close"
so that keep-alive clients move over, then finishes its requests and
exits 0. A new process that fails to start or to become ready within a
minute is killed, and the old one goes on serving. -pid-file follows the
process that serves, for supervisors such as systemd (PIDFile=).

Flags:
`

// serve runs the gateway until it is stopped.
func serve(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("c", "", "the configuration `file` (required)")
	grace := fs.Duration("grace-period", lifecycle.DefaultGracePeriod, "the whole shutdown budget; set it to Kubernetes' terminationGracePeriodSeconds")
	drain := fs.Duration("drain-delay", 0, "how long to go on serving after readiness fails on SIGTERM, or after the new process is ready on an upgrade; 0 means a sixth of -grace-period, negative none")
	upgrades := fs.Bool("upgrade", runtime.GOOS != "windows", "upgrade without downtime on SIGUSR2 (not on Windows)")
	pidFile := fs.String("pid-file", "", "write the pid of the process that serves to this `file`, following upgrades")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), serveUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitInvalid
	}
	if *file == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "levee serve: name one configuration file with -c")
		fs.Usage()
		return ExitInvalid
	}
	if *pidFile != "" && !*upgrades {
		fmt.Fprintln(stderr, "levee serve: -pid-file needs -upgrade")
		return ExitInvalid
	}
	raw, err := os.ReadFile(*file)
	if err != nil {
		reportLoad(stderr, *file, err)
		return ExitInvalid
	}
	cfg, err := config.Parse(raw, config.Options{Dir: filepath.Dir(*file)})
	if err != nil {
		reportLoad(stderr, *file, err)
		return ExitInvalid
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	err = server.Run(context.Background(), cfg, server.Options{
		Dir:    filepath.Dir(*file),
		Logger: log,
		Path:   *file,
		Raw:    raw,
		Lifecycle: lifecycle.Config{GracePeriod: *grace, DrainDelay: *drain, Upgrade: lifecycle.UpgradeConfig{
			Enabled: *upgrades, DrainDelay: *drain, PIDFile: *pidFile,
		}},
	})
	if err != nil {
		log.Error("levee serve: stopped", "error", err.Error())
		return ExitFailure
	}
	return ExitOK
}
