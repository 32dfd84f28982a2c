// Command levee is the Levee gateway's command: see [cli.Run] for its
// subcommands.
package main

import (
	"os"

	"github.com/levee-go/levee/gateway/cli"
)

func main() { os.Exit(cli.Run(os.Args[1:], os.Stdout, os.Stderr)) }
