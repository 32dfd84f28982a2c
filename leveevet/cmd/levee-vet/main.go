// Command levee-vet runs the leveevet analyzers (clienttimeout, deadrecover,
// handlergo, lostpermit, nextcall, perrequest) over Go packages:
//
//	levee-vet ./...
//	go vet -vettool=$(which levee-vet) ./...
//
// Flags select analyzers (-nextcall=false turns one off) and, with -fix,
// apply the suggested fixes; levee-vet help lists them.
package main

import (
	"golang.org/x/tools/go/analysis/multichecker"

	"github.com/levee-go/levee/leveevet"
)

func main() { multichecker.Main(leveevet.Analyzers()...) }
