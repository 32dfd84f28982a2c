package clienttimeout_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/levee-go/levee/leveevet/clienttimeout"
)

func TestAnalyzer(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), clienttimeout.Analyzer, "a", "mainpkg")
}
