package cli_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/levee-go/levee/gateway/cli"
)

const good = `
listeners: [{name: public, address: ":8080"}]
upstreams: [{name: api, targets: [{url: "127.0.0.1:9000"}]}]
routes: [{name: all, upstream: api}]
`

// bad has two problems, on lines 4 and 7.
const bad = `
listeners: [{name: public, address: ":8080"}]
upstreams: [{name: api, targets: [{url: "127.0.0.1:9000"}]}]
routes:
  - name: all
    upstream: apo
    policies: {retry: {attempts: 0}}
`

func write(t *testing.T, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = cli.Run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	g := write(t, dir, "good.yaml", good)
	b := write(t, dir, "bad.yaml", bad)
	for _, tt := range []struct {
		name       string
		args       []string
		code       int
		out, errs  string
		errsPrefix bool
	}{
		{"good", []string{"validate", g}, 0, g + ": ok\n", "", false},
		{"bad", []string{"validate", b}, 2, "",
			b + `: routes[0].upstream: no upstream is named "apo" (line 6:15)` + "\n" +
				b + ": routes[0].policies.retry.attempts: must be ≥ 1 (line 7:34)\n", false},
		{"both", []string{"validate", g, b}, 2, g + ": ok\n", b + ": routes[0].upstream", true},
		{"missing", []string{"validate", filepath.Join(dir, "nope.yaml")}, 2, "", filepath.Join(dir, "nope.yaml") + ": no such file\n", false},
		{"no files", []string{"validate"}, 2, "", "levee validate: no files named\n", true},
		{"bad flag", []string{"validate", "-x", g}, 2, "", "flag provided but not defined: -x\n", true},
		{"unknown command", []string{"proxy"}, 2, "", `levee: unknown command "proxy"`, true},
		{"serve without a file", []string{"serve"}, 2, "", "levee serve: name one configuration file with -c\n", true},
		{"serve a bad file", []string{"serve", "-c", b}, 2, "",
			b + `: routes[0].upstream: no upstream is named "apo" (line 6:15)` + "\n" +
				b + ": routes[0].policies.retry.attempts: must be ≥ 1 (line 7:34)\n", false},
		{"serve a missing file", []string{"serve", "-c", filepath.Join(dir, "nope.yaml")}, 2, "", filepath.Join(dir, "nope.yaml") + ": no such file\n", false},
		{"no command", nil, 2, "", "levee is a reverse proxy", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(tt.args...)
			if code != tt.code || out != tt.out {
				t.Errorf("Run(%q) = %d, stdout %q, want %d, %q", tt.args, code, out, tt.code, tt.out)
			}
			if tt.errsPrefix && !strings.HasPrefix(errs, tt.errs) || !tt.errsPrefix && errs != tt.errs {
				t.Errorf("Run(%q) stderr = %q, want %q (prefix %v)", tt.args, errs, tt.errs, tt.errsPrefix)
			}
		})
	}
}

func TestValidateEnv(t *testing.T) {
	dir := t.TempDir()
	f := write(t, dir, "levee.yaml", good+"redis: {addrs: [\"127.0.0.1:6379\"], password: \"${LEVEE_CLI_TEST_UNSET}\"}\n")
	if code, _, errs := run("validate", f); code != 2 || !strings.Contains(errs, "environment variable LEVEE_CLI_TEST_UNSET is not set") {
		t.Errorf("validate with an unset variable = %d, %q; want 2 and the variable named", code, errs)
	}
	if code, out, errs := run("validate", "-no-env", f); code != 0 || out != f+": ok\n" {
		t.Errorf("validate -no-env = %d, %q, %q; want 0 and ok", code, out, errs)
	}
}

func TestVersionAndHelp(t *testing.T) {
	if code, out, _ := run("version"); code != 0 || !strings.HasPrefix(out, "levee ") {
		t.Errorf("Run(version) = %d, %q; want 0, \"levee …\"", code, out)
	}
	old := cli.Version
	cli.Version = "v9.9.9"
	defer func() { cli.Version = old }()
	if _, out, _ := run("version"); !strings.HasPrefix(out, "levee v9.9.9 ") {
		t.Errorf("Run(version) with Version set = %q, want it first", out)
	}
	for _, args := range [][]string{{"help"}, {"-h"}} {
		if code, out, _ := run(args...); code != 0 || !strings.Contains(out, "validate [-no-env] FILE...") {
			t.Errorf("Run(%q) = %d, %q; want 0 and the commands", args, code, out)
		}
	}
	if code, out, _ := run("help", "validate"); code != 0 || !strings.Contains(out, "-no-env") {
		t.Errorf("Run(help validate) = %d, %q; want 0 and the flags", code, out)
	}
}

// TestBinary builds the levee command and runs it as a user would.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "levee")
	build := exec.Command("go", "build", "-o", bin, "../cmd/levee")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	g := write(t, dir, "good.yaml", good)
	b := write(t, dir, "bad.yaml", bad)
	example, err := filepath.Abs("../examples/levee.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		env  []string
		code int
		out  string
		errs []string
	}{
		{[]string{"validate", g}, nil, 0, g + ": ok\n", nil},
		{[]string{"validate", example}, []string{"LEVEE_REDIS_PASSWORD=x"}, 0, example + ": ok\n", nil},
		{[]string{"validate", g, b}, nil, 2, g + ": ok\n", []string{
			b + `: routes[0].upstream: no upstream is named "apo" (line 6:15)`,
			b + ": routes[0].policies.retry.attempts: must be ≥ 1 (line 7:34)",
		}},
		{[]string{"version"}, nil, 0, "", nil},
	} {
		cmd := exec.Command(bin, tt.args...)
		cmd.Env = append(os.Environ(), tt.env...)
		var out, errs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errs
		err := cmd.Run()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatalf("levee %q: %v", tt.args, err)
		}
		if code != tt.code {
			t.Errorf("levee %q exit status = %d, want %d (stderr %q)", tt.args, code, tt.code, errs.String())
		}
		if tt.out != "" && out.String() != tt.out {
			t.Errorf("levee %q stdout = %q, want %q", tt.args, out.String(), tt.out)
		}
		if got := strings.Join(tt.errs, "\n"); got != "" && errs.String() != got+"\n" {
			t.Errorf("levee %q stderr = %q, want %q", tt.args, errs.String(), got+"\n")
		}
	}
}
