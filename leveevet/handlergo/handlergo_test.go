package handlergo_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/levee-go/levee/leveevet/handlergo"
)

func TestAnalyzer(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), handlergo.Analyzer, "a")
}
