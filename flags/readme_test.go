package flags_test

import (
	"fmt"
	"testing"

	"github.com/levee-go/levee/flags"
	"github.com/levee-go/levee/internal/readmetest"
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
	got, err := readmetest.Block("../README.md", "### Runtime switches — `flags`", "go")
	if err != nil {
		t.Fatal(err)
	}
	want, err := readmetest.Between("readme_test.go", "// README begin", "// README end")
	if err != nil {
		t.Fatal(err)
	}
	if d := readmetest.Diff(readmetest.Lines(got, "//"), readmetest.Lines(want, "//")); d != "" {
		t.Errorf("README flags snippet against Example_readme: %s", d)
	}
}
