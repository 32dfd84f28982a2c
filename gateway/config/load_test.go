package config_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/levee-go/levee/gateway/config"
)

// noEnv is an environment in which no variable is set.
func noEnv(string) (string, bool) { return "", false }

// env is an environment holding vars.
func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// problems returns err's problems, failing the test if err is another kind
// of error.
func problems(t *testing.T, err error) config.Problems {
	t.Helper()
	if err == nil {
		return nil
	}
	var ps config.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v is a %T, want config.Problems", err, err)
	}
	return ps
}

func TestExampleValidates(t *testing.T) {
	cfg, err := config.Load("../examples/levee.yaml", config.Options{
		LookupEnv: env(map[string]string{"LEVEE_REDIS_PASSWORD": "s3cret"}),
	})
	if err != nil {
		t.Fatalf("Load(examples/levee.yaml) = %v, want no problems", err)
	}
	if got := len(cfg.Routes); got != 3 {
		t.Fatalf("len(Routes) = %d, want 3", got)
	}
	if got := string(cfg.Redis.Password); got != "s3cret" {
		t.Errorf("Redis.Password = %q, want the environment's s3cret", got)
	}
	w := cfg.Routes[0]
	if got := w.Policies.RateLimit.Rate; got != (config.Rate{Count: 100, Per: time.Second}) {
		t.Errorf("routes[0] rate = %+v, want 100/s", got)
	}
	r := w.Policies.Retry
	if r.Attempts != 3 || r.PerTryTimeout != 2*time.Second || r.Budget == nil || r.Budget.Ratio != 20 {
		t.Errorf("routes[0] retry = %+v, want the merged x-shared values", r)
	}
	if got := cfg.Routes[1].Policies.Retry.RetryOn; !slices.Equal(got, []string{"gateway_error", "connect_failure", "reset"}) {
		t.Errorf("routes[1] retry_on = %v, want its own list over the merged default", got)
	}
	if got := cfg.Routes[0].Policies.SLO.Window; got != 28*24*time.Hour {
		t.Errorf("routes[0] slo.window = %v, want 28d", got)
	}
}

// wantLines reads the "# want: " comments of a test file.
func wantLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for line := range strings.Lines(string(data)) {
		if w, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "# want: "); ok {
			want = append(want, w)
		}
	}
	return want
}

// TestBadConfigs checks every file in testdata/bad against the problems its
// "# want:" comments list, in order.
func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want := wantLines(t, f)
			if len(want) == 0 {
				t.Fatalf("%s lists no wanted problems", f)
			}
			_, err := config.Load(f, config.Options{LookupEnv: noEnv})
			ps := problems(t, err)
			var got []string
			for _, p := range ps {
				got = append(got, p.Error())
			}
			if !slices.Equal(got, want) {
				t.Errorf("Load(%s) problems:\n%s\nwant:\n%s", f, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestProblemError(t *testing.T) {
	for _, tt := range []struct {
		p    config.Problem
		want string
	}{
		{config.Problem{Path: "routes[2].policies.retry.attempts", Line: 41, Column: 18, Message: "must be ≥ 1"},
			"routes[2].policies.retry.attempts: must be ≥ 1 (line 41:18)"},
		{config.Problem{Line: 3, Message: "YAML: bad"}, "YAML: bad (line 3)"},
		{config.Problem{Message: "the file is too large"}, "the file is too large"},
	} {
		if got := tt.p.Error(); got != tt.want {
			t.Errorf("%#v.Error() = %q, want %q", tt.p, got, tt.want)
		}
	}
	ps := config.Problems{{Path: "a", Line: 1, Column: 2, Message: "x"}, {Path: "b", Message: "y"}}
	if got, want := ps.Error(), "a: x (line 1:2)\nb: y"; got != want {
		t.Errorf("Problems.Error() = %q, want %q", got, want)
	}
}

// head is the start of a valid configuration, before its routes.
const head = `
listeners: [{name: public, address: ":8080"}]
upstreams: [{name: api, targets: [{url: "127.0.0.1:9000"}]}]
`

// minimal is a whole valid configuration.
const minimal = head + "routes: [{name: all, upstream: api}]\n"

// TestDefaults checks that omitted fields, in sections that are present,
// take their documented defaults, and that an omitted section stays off.
func TestDefaults(t *testing.T) {
	src := head + `
routes:
  - name: all
    upstream: api
    policies:
      retry:
      rate_limit: {rate: 10/s}
      concurrency: {adaptive: {}}
      shed: {}
      hedge: {delay: 10ms}
      fallback: {}
      fault: {abort: {percent: 1%}}
      slo: {objective: 99%}
`
	cfg, err := config.Parse([]byte(src), config.Options{LookupEnv: noEnv})
	if err != nil {
		t.Fatalf("Parse = %v, want no problems", err)
	}
	l := cfg.Listeners[0]
	if l.MaxHeaderBytes != 1<<20 || l.Timeouts.ReadHeader != 10*time.Second || l.Timeouts.Idle != 120*time.Second {
		t.Errorf("listener defaults = %+v", l)
	}
	u := cfg.Upstreams[0]
	if u.Targets[0].Weight != 1 || u.Balancing.Policy != config.RoundRobin || u.ResolveInterval != 30*time.Second ||
		u.Transport.MaxIdleConnsPerHost != 64 || u.Transport.DialTimeout != 5*time.Second {
		t.Errorf("upstream defaults = %+v", u)
	}
	if u.Breaker != nil || u.HealthCheck != nil || u.OutlierDetection != nil {
		t.Errorf("omitted upstream sections = %+v, want nil", u)
	}
	r := cfg.Routes[0]
	if r.Timeout != 15*time.Second || r.MaxRequestBody != 8<<20 {
		t.Errorf("route defaults: timeout %v, max_request_body %d", r.Timeout, r.MaxRequestBody)
	}
	p := r.Policies
	if p.Retry == nil || p.Retry.Attempts != 3 || p.Retry.Backoff.Initial != 25*time.Millisecond ||
		!slices.Equal(p.Retry.RetryOn, []string{"connect_failure", "gateway_error"}) || p.Retry.IdempotencyKeyHeader != "Idempotency-Key" {
		t.Errorf("retry: (alone) = %+v, want the defaults", p.Retry)
	}
	if rl := p.RateLimit; rl.Burst != 10 || !slices.Equal(rl.Key, []config.KeyPart{"route"}) || rl.OnRedisFailure != config.LocalShare {
		t.Errorf("rate_limit defaults = %+v (burst defaults to the rate's count)", rl)
	}
	if a := p.Concurrency.Adaptive; a.Algorithm != config.Gradient2 || a.Min != 1 || a.Max != 1000 {
		t.Errorf("adaptive defaults = %+v", a)
	}
	if s := p.Shed; s.CriticalityHeader != "X-Criticality" || s.Default != "CRITICAL" {
		t.Errorf("shed defaults = %+v", s)
	}
	if p.Hedge.Max != 1 || p.Fallback.Status != 503 || p.Fault.Abort.Status != 503 || p.SLO.Window != 28*24*time.Hour {
		t.Errorf("hedge %+v, fallback %+v, fault %+v, slo %+v", p.Hedge, p.Fallback, p.Fault.Abort, p.SLO)
	}
	if cfg.Admin.Address != "127.0.0.1:9901" {
		t.Errorf("admin.address = %q, want 127.0.0.1:9901", cfg.Admin.Address)
	}
	if cfg.Redis != nil || cfg.AccessLog != nil || cfg.Tracing != nil {
		t.Errorf("omitted sections: redis %v, access_log %v, tracing %v, want nil", cfg.Redis, cfg.AccessLog, cfg.Tracing)
	}
}

func TestSecrets(t *testing.T) {
	src := head + `
redis:
  addrs: ["127.0.0.1:6379"]
  username: "svc-${USER_SUFFIX}"
  password: "${PASS}$${literal}"
admin:
  token_env: ADMIN_TOKEN
  address: "0.0.0.0:9901"
`
	cfg, err := config.Parse([]byte(src), config.Options{
		LookupEnv: env(map[string]string{"USER_SUFFIX": "a", "PASS": "p{w}", "ADMIN_TOKEN": "t"}),
	})
	if err != nil {
		t.Fatalf("Parse = %v, want no problems", err)
	}
	if got := string(cfg.Redis.Username); got != "svc-a" {
		t.Errorf("username = %q, want svc-a", got)
	}
	if got := string(cfg.Redis.Password); got != "p{w}${literal}" {
		t.Errorf("password = %q, want p{w}${literal}", got)
	}
	_, err = config.Parse([]byte(src), config.Options{LookupEnv: env(map[string]string{"USER_SUFFIX": "a", "PASS": "p"})})
	ps := problems(t, err)
	if len(ps) != 1 || ps[0].Path != "admin.token_env" || !strings.Contains(ps[0].Message, "ADMIN_TOKEN is not set") {
		t.Errorf("Parse without ADMIN_TOKEN = %v, want one problem at admin.token_env", ps)
	}
}

func TestDollarLiteral(t *testing.T) {
	src := head + `
routes:
  - name: all
    upstream: api
    request_headers: {set: {X-Template: "$${name}"}}
`
	cfg, err := config.Parse([]byte(src), config.Options{LookupEnv: noEnv})
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	if got := cfg.Routes[0].RequestHeaders.Set["X-Template"]; got != "${name}" {
		t.Errorf(`"$${name}" decodes to %q, want ${name}`, got)
	}
}

// TestAliasBomb checks that small files of nested aliases ("billion
// laughs"), in lists and in "<<" merges, are refused quickly instead of being
// expanded.
func TestAliasBomb(t *testing.T) {
	for _, tt := range []struct{ name, first, next, use string }{
		{"lists", `["127.0.0.1:1"]`, "[%s]", "redis: {addrs: *a19}"},
		{"merges", `{name: p}`, "{<<: [%s]}", "listeners: [*a19]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			fmt.Fprintf(&b, "x-a0: &a0 %s\n", tt.first)
			for i := 1; i < 20; i++ {
				refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", ")
				fmt.Fprintf(&b, "x-a%d: &a%d %s\n", i, i, fmt.Sprintf(tt.next, refs))
			}
			b.WriteString(tt.use + "\n")
			start := time.Now()
			_, err := config.Parse([]byte(b.String()), config.Options{LookupEnv: noEnv})
			if err == nil {
				t.Fatal("Parse(alias bomb) = nil, want a problem")
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Parse(alias bomb) took %v, want it refused quickly", d)
			}
		})
	}
}

// TestDeepNesting checks that deeply nested input is refused quickly.
func TestDeepNesting(t *testing.T) {
	for _, src := range []string{
		"listeners: " + strings.Repeat("[", 1<<20) + strings.Repeat("]", 1<<20),
		"listeners: " + strings.Repeat("{a: ", 1<<19),
		strings.Repeat("- ", 1<<20),
	} {
		start := time.Now()
		if _, err := config.Parse([]byte(src), config.Options{}); err == nil {
			t.Errorf("Parse(%.20q…) = nil, want a problem", src)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Parse(%.20q…) took %v, want it refused quickly", src, d)
		}
	}
}

func TestFileTooLarge(t *testing.T) {
	data := []byte(strings.Repeat("#", config.MaxFileSize+1))
	ps := problems(t, func() error { _, err := config.Parse(data, config.Options{}); return err }())
	if len(ps) != 1 || !strings.Contains(ps[0].Message, "larger than") {
		t.Errorf("Parse(%d bytes) = %v, want one problem saying it is too large", len(data), ps)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "nope.yaml"), config.Options{})
	var ps config.Problems
	if err == nil || errors.As(err, &ps) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want an error matching os.ErrNotExist, not Problems", err)
	}
}

// TestRelativeFiles checks that files named in the configuration are found
// beside it.
func TestRelativeFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"token", "sorry.html"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	src := head + `
routes:
  - name: all
    upstream: api
    policies: {fallback: {file: sorry.html}}
admin: {token_file: token}
`
	path := filepath.Join(dir, "levee.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path, config.Options{LookupEnv: noEnv}); err != nil {
		t.Errorf("Load(%s) = %v, want the files beside it found", path, err)
	}
	if _, err := config.Parse([]byte(src), config.Options{LookupEnv: noEnv, Dir: t.TempDir()}); err == nil {
		t.Errorf("Parse with another Dir = nil, want the files reported missing")
	}
}

// FuzzLoad checks that no input makes the loader panic or run long, and that
// every problem it reports is well formed.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	files = append(files, "../examples/levee.yaml")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(minimal))
	f.Add([]byte("a: &a [*a, *a]\nlisteners: *a"))
	f.Add([]byte("<<: {<<: {<<: {}}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse(data, config.Options{LookupEnv: func(string) (string, bool) { return "v", true }})
		if err == nil {
			if cfg == nil {
				t.Fatal("Parse returned neither a Config nor problems")
			}
			return
		}
		if cfg != nil {
			t.Fatalf("Parse returned a Config with problems %v", err)
		}
		ps := problems(t, err)
		if len(ps) == 0 {
			t.Fatal("Parse returned empty Problems")
		}
		for _, p := range ps {
			if p.Message == "" || p.Line < 0 || p.Column < 0 {
				t.Fatalf("malformed problem %#v", p)
			}
		}
	})
}

func TestSecretRedacted(t *testing.T) {
	r := config.Redis{Password: "hunter2", Username: "svc"}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(format, r); strings.Contains(got, "hunter2") || strings.Contains(got, "svc") {
			t.Errorf("Sprintf(%q, redis) = %s, want the secrets redacted", format, got)
		}
	}
	data, err := json.Marshal(r)
	if err != nil || strings.Contains(string(data), "hunter2") || !strings.Contains(string(data), `"Password":"[redacted]"`) {
		t.Errorf("json.Marshal(redis) = %s, %v; want the password redacted", data, err)
	}
	if got := config.Secret("").String(); got != "" {
		t.Errorf(`Secret("").String() = %q, want ""`, got)
	}
	if got := string(r.Password); got != "hunter2" {
		t.Errorf("string(Password) = %q, want the value", got)
	}
}
