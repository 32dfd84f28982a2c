package gateway_test

import (
	"os"
	"testing"

	"github.com/levee-go/levee/gateway/config"
	"github.com/levee-go/levee/internal/readmetest"
)

// TestREADMEConfig checks that the first gateway configuration of the
// Chinese quick start is gateway/examples/quickstart.yaml, key for key
// (comments and alignment aside, so that they may be translated), and
// that it loads as a valid configuration.
func TestREADMEConfig(t *testing.T) {
	got, err := readmetest.Block("../README.zh-CN.md", "## 第一个网关配置", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("examples/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d := readmetest.Diff(readmetest.Lines(got, "#"), readmetest.Lines(string(want), "#")); d != "" {
		t.Errorf("README.zh-CN.md's configuration against examples/quickstart.yaml: %s", d)
	}
	if _, err := config.Parse([]byte(got), config.Options{}); err != nil {
		t.Errorf("README.zh-CN.md's configuration does not load: %v", err)
	}
}
