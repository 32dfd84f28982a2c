package readmetest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/levee-go/levee/internal/readmetest"
)

const doc = "# T\n\n## Go\n\n```go\nx := 1 // one\n```\n\n## YAML\n\n```yaml\na: 1   # one\n```\n\n```yaml\nb: 2\n```\n"

func write(t *testing.T, name, s string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestBlock(t *testing.T) {
	f := write(t, "README.md", doc)
	if got, err := readmetest.Block(f, "## YAML", "yaml"); err != nil || got != "a: 1   # one\n" {
		t.Errorf(`Block(YAML) = %q, %v; want "a: 1   # one\n"`, got, err)
	}
	if got, err := readmetest.Block(f, "## Go", "go"); err != nil || got != "x := 1 // one\n" {
		t.Errorf("Block(Go) = %q, %v", got, err)
	}
	for _, c := range [][2]string{{"## None", "go"}, {"## YAML", "go"}, {"## Z", "yaml"}} {
		if _, err := readmetest.Block(f, c[0], c[1]); err == nil {
			t.Errorf("Block(%q, %q) = nil error, want one", c[0], c[1])
		}
	}
	if got, _ := readmetest.Blocks(f, "yaml"); len(got) != 2 || got[1] != "b: 2\n" {
		t.Errorf("Blocks(yaml) = %q, want two", got)
	}
}

func TestBetween(t *testing.T) {
	f := write(t, "x_test.go", "a\n\t// README begin\nb\nc\n\t// README end\nd\n")
	if got, err := readmetest.Between(f, "// README begin", "// README end"); err != nil || got != "b\nc\n" {
		t.Errorf(`Between = %q, %v; want "b\nc\n"`, got, err)
	}
	if _, err := readmetest.Between(f, "// README end", "// README begin"); err == nil {
		t.Error("Between with the markers reversed = nil error, want one")
	}
}

func TestLinesAndDiff(t *testing.T) {
	a := readmetest.Lines("x :=  1 // one\n\n  y := 2\n", "//")
	b := readmetest.Lines("x := 1 // 一\ny := 2 // 二\n", "//")
	if d := readmetest.Diff(a, b); d != "" {
		t.Errorf("Diff of the same code with other comments: %s", d)
	}
	c := readmetest.Lines("x := 1\ny := 3\n", "//")
	if d := readmetest.Diff(a, c); !strings.Contains(d, `line 2 is "y := 2", want "y := 3"`) {
		t.Errorf("Diff = %q, want line 2 named", d)
	}
	if d := readmetest.Diff(a, a[:1]); d == "" {
		t.Error("Diff of a longer snippet = \"\", want a difference")
	}
}
