package leveevet

import (
	"golang.org/x/tools/go/analysis"

	"github.com/levee-go/levee/leveevet/clienttimeout"
	"github.com/levee-go/levee/leveevet/deadrecover"
	"github.com/levee-go/levee/leveevet/handlergo"
	"github.com/levee-go/levee/leveevet/lostpermit"
	"github.com/levee-go/levee/leveevet/nextcall"
	"github.com/levee-go/levee/leveevet/perrequest"
)

// Analyzers returns every leveevet analyzer, in name order: the set
// cmd/levee-vet runs. Each call returns a new slice over the shared
// analyzers.
func Analyzers() []*analysis.Analyzer {
	return []*analysis.Analyzer{
		clienttimeout.Analyzer,
		deadrecover.Analyzer,
		handlergo.Analyzer,
		lostpermit.Analyzer,
		nextcall.Analyzer,
		perrequest.Analyzer,
	}
}
