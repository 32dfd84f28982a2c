package nextcall_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/levee-go/levee/leveevet/nextcall"
)

func TestAnalyzer(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), nextcall.Analyzer, "a")
}
