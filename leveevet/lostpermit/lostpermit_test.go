package lostpermit_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/levee-go/levee/leveevet/lostpermit"
)

func TestAnalyzer(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), lostpermit.Analyzer, "a")
}
