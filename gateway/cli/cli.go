package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/levee-go/levee/gateway/config"
)

// Exit statuses of [Run].
const (
	// ExitOK means the command did what was asked; for validate, every
	// file is valid.
	ExitOK = 0
	// ExitFailure means the command failed for a reason other than the
	// input, such as an output error.
	ExitFailure = 1
	// ExitInvalid means the input was wrong: a file with problems, a file
	// that cannot be read, or a misused command.
	ExitInvalid = 2
)

// Version is the command's version. Release builds set it with
// -ldflags "-X github.com/levee-go/levee/gateway/cli.Version=v1.2.3"; empty
// means the module version recorded in the binary.
var Version = ""

const usage = `levee is a reverse proxy that keeps services standing: rate limits,
breakers, retries with budgets, hedging, shedding and fallbacks from one
YAML file.

Usage:

	levee <command> [arguments]

Commands:

	serve -c FILE                run the gateway from a configuration file
	validate [-no-env] FILE...   check configuration files and report every problem
	slo gate -c FILE --prometheus URL
	                             fail (exit 1) when an SLO's error budget is spent
	demo [-duration D]           watch the gateway protect built-in failing upstreams
	version                      print the version
	help                         print this help

The configuration file is described in docs/gateway-config.md.
`

const validateUsage = `Usage: levee validate [-no-env] FILE...

Checks each configuration file and reports every problem in it, one per
line, with its YAML path and position:

	levee.yaml: routes[2].policies.retry.attempts: must be ≥ 1 (line 41:18)

A valid file prints "FILE: ok". The exit status is 0 when every file is
valid and 2 otherwise.

Flags:
`

// Run runs the levee command with args (the arguments after the program
// name), writing to stdout and stderr, and returns the exit status.
func Run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitInvalid
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return serve(rest, stderr)
	case "validate":
		return validate(rest, stdout, stderr)
	case "demo":
		return demo(rest, stdout, stderr)
	case "slo":
		return sloCmd(rest, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "levee %s %s %s/%s\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return ExitOK
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] == "validate" {
			return validate([]string{"-h"}, stdout, stdout)
		}
		if len(rest) > 0 && rest[0] == "serve" {
			return serve([]string{"-h"}, stdout)
		}
		if len(rest) > 0 && rest[0] == "slo" {
			return sloGate([]string{"-h"}, stdout, stdout)
		}
		if len(rest) > 0 && rest[0] == "demo" {
			return demo([]string{"-h"}, stdout, stdout)
		}
		fmt.Fprint(stdout, usage)
		return ExitOK
	default:
		fmt.Fprintf(stderr, "levee: unknown command %q\n\n%s", cmd, usage)
		return ExitInvalid
	}
}

// version returns Version, or the main module's version in the build
// information.
func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// validate checks the files named in args.
func validate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	noEnv := fs.Bool("no-env", false, "do not require the environment variables that secret fields name (for checks without secrets)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), validateUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitInvalid
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "levee validate: no files named")
		fs.Usage()
		return ExitInvalid
	}
	opts := config.Options{}
	if *noEnv {
		opts.LookupEnv = func(string) (string, bool) { return "", true }
	}
	status := ExitOK
	for _, file := range fs.Args() {
		_, err := config.Load(file, opts)
		if err == nil {
			if _, werr := fmt.Fprintf(stdout, "%s: ok\n", file); werr != nil {
				return ExitFailure
			}
			continue
		}
		reportLoad(stderr, file, err)
		status = ExitInvalid
	}
	return status
}

// reportLoad prints why a configuration file could not be loaded: every
// problem on its own line, prefixed with the file's name.
func reportLoad(w io.Writer, file string, err error) {
	var probs config.Problems
	switch {
	case errors.As(err, &probs):
		for _, p := range probs {
			fmt.Fprintf(w, "%s: %s\n", file, p.Error())
		}
	case errors.Is(err, os.ErrNotExist):
		fmt.Fprintf(w, "%s: no such file\n", file)
	default:
		fmt.Fprintf(w, "%s: %v\n", file, err)
	}
}
