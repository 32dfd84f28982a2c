package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

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

Flags:
`

// serve runs the gateway until it is stopped.
func serve(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("c", "", "the configuration `file` (required)")
	grace := fs.Duration("grace-period", lifecycle.DefaultGracePeriod, "the whole shutdown budget; set it to Kubernetes' terminationGracePeriodSeconds")
	drain := fs.Duration("drain-delay", 0, "how long to go on serving after readiness fails on SIGTERM; 0 means a sixth of -grace-period, negative none")
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
	cfg, err := config.Load(*file, config.Options{})
	if err != nil {
		reportLoad(stderr, *file, err)
		return ExitInvalid
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	err = server.Run(context.Background(), cfg, server.Options{
		Dir:       filepath.Dir(*file),
		Logger:    log,
		Lifecycle: lifecycle.Config{GracePeriod: *grace, DrainDelay: *drain},
	})
	if err != nil {
		log.Error("levee serve: stopped", "error", err.Error())
		return ExitFailure
	}
	return ExitOK
}
