package levee_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/breaker"
	"github.com/levee-go/levee/internal/readmetest"
	"github.com/levee-go/levee/retry"
	"github.com/levee-go/levee/timelimit"
)

// The README files name a payments service: these stand in for it.
type (
	Receipt     struct{ ID string }
	paymentsAPI struct{ calls int }
)

func (s *paymentsAPI) Charge(_ context.Context, order string) (Receipt, error) {
	s.calls++
	if s.calls < 2 {
		return Receipt{}, errors.New("payments: connection reset") // the first try fails; retry makes a second
	}
	return Receipt{ID: "r-" + order}, nil
}

// Example_readme is the first library pipeline of README.md ("The
// execution model") and README.zh-CN.md, run. TestREADMEPipeline checks
// that both show this code.
func Example_readme() {
	ctx, payments, order := context.Background(), &paymentsAPI{}, "42"

	// README begin
	b, _ := breaker.New(breaker.Config{Name: "payments"})
	r, _ := retry.New(retry.Config{MaxAttempts: 3})
	tl, _ := timelimit.New(timelimit.Config{Timeout: 500 * time.Millisecond})
	p := levee.New(r, b, tl) // sorted into the default order: retry → breaker → timeout → call

	receipt, err := levee.Do(ctx, p, func(ctx context.Context) (Receipt, error) {
		return payments.Charge(ctx, order)
	})
	switch {
	case errors.Is(err, levee.ErrOpen): // refused without calling; levee.RetryAfter(err) says when to come back
	case errors.Is(err, levee.ErrTimeout): // the call was too slow
	}
	// README end

	fmt.Println(receipt.ID, err, payments.calls)
	// Output:
	// r-42 <nil> 2
}

// readmes are the README and its translations: each must show the tested
// snippets.
var readmes = []string{"README.md", "README.zh-CN.md"}

// TestREADMEPipeline checks that each README's first pipeline is the code
// Example_readme compiles and runs, line for line (comments and alignment
// aside, so that translated comments are fine).
func TestREADMEPipeline(t *testing.T) {
	want, err := readmetest.Between("readme_test.go", "// README begin", "// README end")
	if err != nil {
		t.Fatal(err)
	}
	headings := map[string]string{"README.md": "## The execution model", "README.zh-CN.md": "## 第一个库管道"}
	for _, file := range readmes {
		got, err := readmetest.Block(file, headings[file], "go")
		if err != nil {
			t.Error(err)
			continue
		}
		if d := readmetest.Diff(readmetest.Lines(got, "//"), readmetest.Lines(want, "//")); d != "" {
			t.Errorf("%s's pipeline against Example_readme: %s", file, d)
		}
	}
}

// TestREADMECommands checks that every command of the translated READMEs'
// shell blocks is one README.md shows too, where the tests keep it working
// (the demo, make test, the gateway's quick start), so that a translation
// cannot show a command the English one dropped or changed.
func TestREADMECommands(t *testing.T) {
	english, err := readmetest.Blocks("README.md", "sh")
	if err != nil {
		t.Fatal(err)
	}
	var known []string
	for _, b := range english {
		known = append(known, readmetest.Lines(b, "#")...)
	}
	for _, file := range readmes[1:] {
		blocks, err := readmetest.Blocks(file, "sh")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, b := range blocks {
			for _, cmd := range readmetest.Lines(b, "#") {
				n++
				if !slices.Contains(known, cmd) {
					t.Errorf("%s shows %q, which README.md does not", file, cmd)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s shows no command", file)
		}
		if first := readmetest.Lines(english[0], "#"); len(blocks) == 0 || readmetest.Diff(readmetest.Lines(blocks[0], "#"), first) != "" {
			t.Errorf("%s's first commands are not README.md's first commands %q", file, first)
		}
	}
}
