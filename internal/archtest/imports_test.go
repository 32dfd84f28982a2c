package archtest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const core = "github.com/levee-go/levee"

// policies may import only the root package, clock, internal/... and the
// standard library, and never each other or an adapter.
var policies = []string{"breaker", "ratelimit", "concurrency", "shed", "retry", "hedge",
	"timelimit", "fallback", "chaos"}

// heavy names import paths that only one module of the repository may use.
var heavy = map[string]string{
	"github.com/redis/go-redis":            "redislimit",
	"github.com/prometheus/":               "observe",
	"go.opentelemetry.io/":                 "observe",
	"google.golang.org/grpc":               "leveegrpc",
	"go.etcd.io/":                          "gateway",
	"github.com/sony/gobreaker":            "bench",
	"github.com/failsafe-go/":              "bench",
	"github.com/alibaba/sentinel-golang":   "bench",
	"github.com/zeromicro/go-zero":         "bench",
	"github.com/mercari/go-circuitbreaker": "bench",
	"github.com/afex/hystrix-go":           "bench",
	"go.uber.org/ratelimit":                "bench",
	"github.com/go-redis/redis_rate":       "bench",
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

func TestPolicyImports(t *testing.T) {
	all := deps(t, root(t), "./...")
	for pkg, ds := range all {
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, core), "/")
		top, _, _ := strings.Cut(rel, "/")
		isPolicy := false
		for _, p := range policies {
			if top == p {
				isPolicy = true
			}
		}
		for _, d := range ds {
			if !strings.HasPrefix(d, core) {
				if !strings.HasPrefix(d, "golang.org/x/") && !strings.HasPrefix(d, "github.com/cloudflare/tableflip") {
					t.Errorf("%s imports %s: the core module needs only the standard library, golang.org/x and tableflip", pkg, d)
				}
				continue
			}
			dr := strings.TrimPrefix(strings.TrimPrefix(d, core), "/")
			dtop, _, _ := strings.Cut(dr, "/")
			if isPolicy && dr != "" && dtop != "clock" && dtop != "internal" && dtop != top {
				t.Errorf("policy package %s imports %s: policies import only the root package, clock and internal", pkg, d)
			}
			if top == "leveehttp" {
				for _, p := range policies {
					if dtop == p {
						t.Errorf("%s imports policy package %s: adapters go through the root package's interfaces", pkg, d)
					}
				}
			}
			if dtop == "examples" || (dtop == "internal" && strings.HasPrefix(dr, "internal/archtest")) {
				t.Errorf("%s imports %s", pkg, d)
			}
		}
	}
	if len(all) < 3 {
		t.Fatalf("go list found %d packages, want the whole core module", len(all))
	}
}

// TestModuleImports checks that heavy dependencies stay in the module that
// owns them.
func TestModuleImports(t *testing.T) {
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
	for _, m := range mods {
		for pkg, ds := range deps(t, filepath.Join(base, m), "./...") {
			for _, d := range ds {
				for prefix, owner := range heavy {
					if strings.HasPrefix(d, prefix) && m != owner && !(owner != "bench" && m == "gateway") && m != "bench" {
						t.Errorf("%s (module %s) imports %s, which only %s may use", pkg, m, d, owner)
					}
				}
			}
		}
	}
}
