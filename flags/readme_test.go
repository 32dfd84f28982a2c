package flags_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/levee-go/levee/flags"
)

// Example_readme is the README's flags snippet, run. TestREADMESnippet
// checks that the README shows this code.
func Example_readme() {
	userID, version := "user-1", "2.4.0"

	// README begin
	st := flags.New(flags.Config{}) // Config.Clock drives progressive rollouts
	err := st.Update(flags.Flag{
		Key: "new-checkout", // no Variants: a boolean flag, "on"/"off", default "off"
		Rules: []flags.Rule{{
			Conditions: []flags.Condition{{Attribute: "app", Op: flags.OpVersionLess, Values: []string{"2.3.0"}}},
			Serve:      flags.Serve{Variant: "off"},
		}},
		Fallthrough: flags.Serve{Split: []flags.Weight{{Variant: "on", Percent: 10}, {Variant: "off", Percent: 90}}},
	})
	if err != nil {
		panic(err) // a *flags.DefinitionError names the flag and the field
	}
	ec := flags.EvaluationContext{TargetingKey: userID, Attributes: []flags.Attribute{flags.StringAttr("app", version)}}
	if st.Bool("new-checkout", ec, false) {
		fmt.Println("new checkout")
	}
	r := st.Evaluate("new-checkout", ec)
	fmt.Println(r.Variant, r.Reason, r.Rule) // off SPLIT -1: user-1 is not in the 10%
	// README end

	// Output:
	// off SPLIT -1
}

// TestREADMESnippet checks that the README's flags snippet is the code
// that Example_readme compiles and runs, line for line (comments and
// alignment aside).
func TestREADMESnippet(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	sec := string(readme)
	i := strings.Index(sec, "### Runtime switches — `flags`")
	if i < 0 {
		t.Fatal("README has no flags section")
	}
	sec = sec[i:]
	start := strings.Index(sec, "```go\n")
	end := strings.Index(sec[start+6:], "```")
	if start < 0 || end < 0 {
		t.Fatal("README's flags section has no go block")
	}
	got := codeLines(sec[start+6 : start+6+end])

	src, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	ex := string(src)
	ex = ex[strings.Index(ex, "// README begin\n")+len("// README begin\n") : strings.Index(ex, "\t// README end")]
	want := codeLines(ex)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("README flags snippet:\n%s\n\nwant (Example_readme):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// codeLines returns the Go lines of a snippet without comments and with
// whitespace collapsed.
func codeLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if i := strings.Index(l, "//"); i >= 0 {
			l = l[:i]
		}
		l = strings.Join(strings.Fields(l), " ")
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}
