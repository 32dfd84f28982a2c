package archtest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const core = Core

// heavy names import paths that only the listed modules of the repository
// may use.
var heavy = map[string][]string{
	"github.com/redis/go-redis":            {"redislimit", "leveemq"},
	"github.com/prometheus/":               {"observe"},
	"go.opentelemetry.io/":                 {"observe"},
	"google.golang.org/grpc":               {"leveegrpc"},
	"go.etcd.io/":                          {"gateway"},
	"github.com/fsnotify/fsnotify":         {"gateway"},
	"github.com/rabbitmq/amqp091-go":       {"leveemq"},
	"github.com/nats-io/":                  {"leveemq"},
	"github.com/jackc/pgx":                 {"leveesql", "leveemq"},
	"golang.org/x/tools":                   {"leveevet"},
	"github.com/gin-gonic/gin":             {"leveegin"},
	"github.com/labstack/echo":             {"leveeecho"},
	"github.com/sony/gobreaker":            {"bench"},
	"github.com/failsafe-go/":              {"bench"},
	"github.com/alibaba/sentinel-golang":   {"bench"},
	"github.com/zeromicro/go-zero":         {"bench"},
	"github.com/mercari/go-circuitbreaker": {"bench"},
	"github.com/afex/hystrix-go":           {"bench"},
	"go.uber.org/ratelimit":                {"bench"},
	"github.com/go-redis/redis_rate":       {"bench"},
}

// deps lists, for every package matching patterns in the module at dir, its
// non-standard transitive imports.
func deps(t *testing.T, dir string, patterns ...string) map[string][]string {
	t.Helper()
	args := append([]string{"list", "-deps=false", "-f",
		`{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list in %s: %v\n%s", dir, err, stderr.String())
	}
	res := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		var nonStd []string
		for _, d := range f[1:] {
			if first, _, _ := strings.Cut(d, "/"); strings.Contains(first, ".") {
				nonStd = append(nonStd, d)
			}
		}
		res[f[0]] = nonStd
	}
	return res
}

func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// modules lists the repository's modules: folders with a go.mod, the core
// (".") first.
func modules(t *testing.T) []string {
	t.Helper()
	base := root(t)
	entries, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	mods := []string{"."}
	for _, e := range entries {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(base, e.Name(), "go.mod")); err == nil {
				mods = append(mods, e.Name())
			}
		}
	}
	return mods
}

// imports lists, for every package of the module at dir, its direct imports.
func imports(t *testing.T, dir string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list in %s: %v\n%s", dir, err, stderr.String())
	}
	res := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) > 0 {
			res[f[0]] = f[1:]
		}
	}
	return res
}

// TestImportRules checks every package of every module against [Rules].
func TestImportRules(t *testing.T) {
	all := map[string][]string{}
	for _, m := range modules(t) {
		for pkg, ds := range imports(t, filepath.Join(root(t), m)) {
			all[pkg] = ds
		}
	}
	for _, want := range []string{core, core + "/breaker", core + "/leveegrpc", core + "/slo",
		core + "/health", core + "/lifecycle", core + "/observe", core + "/redislimit", core + "/leveesql",
		core + "/leveegin", core + "/leveeecho", core + "/leveemq"} {
		if _, ok := all[want]; !ok {
			t.Errorf("go list did not report %s: the test would not check it", want)
		}
	}
	for _, v := range Violations(Rules(), all) {
		t.Error(v)
	}
}

// TestViolationsCatchBrokenRules shows the check can fail: each row is an
// import graph that breaks one rule.
func TestViolationsCatchBrokenRules(t *testing.T) {
	tests := []struct {
		name    string
		imports map[string][]string
		want    string
	}{
		{"policy imports policy", map[string][]string{core + "/breaker": {core + "/ratelimit"}}, "breaker imports"},
		{"adapter imports policy", map[string][]string{core + "/leveehttp": {core + "/breaker"}}, "leveehttp imports"},
		{"grpc adapter imports internal", map[string][]string{core + "/leveegrpc": {core + "/internal/callwindow"}}, "leveegrpc imports"},
		{"slo imports adapter", map[string][]string{core + "/slo": {core + "/leveehttp"}}, "slo imports"},
		{"gateway imports internal", map[string][]string{core + "/gateway/proxy": {core + "/internal/callwindow"}}, "gateway/proxy imports"},
		{"root imports policy", map[string][]string{core: {core + "/breaker"}}, "levee imports"},
		{"unknown folder", map[string][]string{core + "/newthing": nil}, "no import rule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Violations(Rules(), tt.imports)
			if len(got) != 1 || !strings.Contains(got[0], tt.want) {
				t.Errorf("Violations(%v) = %q, want one violation containing %q", tt.imports, got, tt.want)
			}
		})
	}
	ok := map[string][]string{
		core + "/breaker":   {core, core + "/clock", core + "/internal/callwindow", "sync"},
		core + "/lifecycle": {core + "/health"},
		core + "/observe":   {core + "/slo", core + "/breaker"},
		core + "/bench":     {core + "/internal/conformance"},
	}
	if got := Violations(Rules(), ok); len(got) != 0 {
		t.Errorf("Violations(allowed graph) = %q, want none", got)
	}
}

// wiresModules reports whether module m puts the others together (the
// gateway, the examples) and so may use every heavy dependency but the
// peers'.
func wiresModules(m string) bool { return m == "gateway" || m == "examples" }

// TestModuleImports checks that heavy dependencies stay in the module that
// owns them.
func TestModuleImports(t *testing.T) {
	base := root(t)
	for _, m := range modules(t) {
		for pkg, ds := range deps(t, filepath.Join(base, m), "./...") {
			for _, d := range ds {
				for prefix, owners := range heavy {
					peers := slices.Contains(owners, "bench")
					if strings.HasPrefix(d, prefix) && !slices.Contains(owners, m) && !(!peers && wiresModules(m)) && m != "bench" {
						t.Errorf("%s (module %s) imports %s, which only %s may use", pkg, m, d, strings.Join(owners, ", "))
					}
				}
			}
		}
	}
}
