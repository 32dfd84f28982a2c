// Package golangci is the golangci-lint module-plugin entry point for the
// leveevet analyzers. Importing it registers the plugin "leveevet" with
// golangci-lint's plugin registry (which golangci-lint requires to happen
// in init); nothing else in leveevet registers anything.
//
// Build a golangci-lint that includes it with .custom-gcl.yml:
//
//	version: v2.1.0
//	plugins:
//	  - module: github.com/levee-go/levee/leveevet
//	    import: github.com/levee-go/levee/leveevet/golangci
//	    version: latest
//
// then enable it in .golangci.yml:
//
//	version: "2"
//	linters:
//	  enable: [leveevet]
//	  settings:
//	    custom:
//	      leveevet:
//	        type: module
//	        settings:
//	          disable: [clienttimeout] # optional: analyzer names to leave out
package golangci

import (
	"fmt"
	"slices"

	"github.com/golangci/plugin-module-register/register"
	"golang.org/x/tools/go/analysis"

	"github.com/levee-go/levee/leveevet"
)

func init() { register.Plugin("leveevet", New) }

// Settings are the plugin's settings in .golangci.yml. The zero value runs
// every analyzer.
type Settings struct {
	// Disable names analyzers to leave out (clienttimeout, deadrecover,
	// handlergo, nextcall). An unknown name is an error.
	Disable []string `json:"disable"`
}

// Plugin runs the leveevet analyzers inside golangci-lint.
type Plugin struct {
	analyzers []*analysis.Analyzer
}

// New decodes conf (the settings block of .golangci.yml) into [Settings]
// and returns the plugin; unknown fields and analyzer names are errors.
func New(conf any) (register.LinterPlugin, error) {
	s, err := register.DecodeSettings[Settings](conf)
	if err != nil {
		return nil, fmt.Errorf("leveevet: %w", err)
	}
	all := leveevet.Analyzers()
	for _, name := range s.Disable {
		if !slices.ContainsFunc(all, func(a *analysis.Analyzer) bool { return a.Name == name }) {
			return nil, fmt.Errorf("leveevet: settings.disable: unknown analyzer %q", name)
		}
	}
	keep := slices.DeleteFunc(all, func(a *analysis.Analyzer) bool { return slices.Contains(s.Disable, a.Name) })
	return &Plugin{analyzers: keep}, nil
}

// BuildAnalyzers returns the enabled analyzers.
func (p *Plugin) BuildAnalyzers() ([]*analysis.Analyzer, error) { return p.analyzers, nil }

// GetLoadMode says the analyzers need type information.
func (p *Plugin) GetLoadMode() string { return register.LoadModeTypesInfo }

var _ register.LinterPlugin = (*Plugin)(nil)
