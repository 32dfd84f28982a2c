package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/levee-go/levee/gateway/cli"
)

// TestSLOGateBadInput checks that misuse exits 2 with a message naming
// what is wrong, before Prometheus is asked anything.
func TestSLOGateBadInput(t *testing.T) {
	dir := t.TempDir()
	noSLO := filepath.Join(dir, "noslo.yaml")
	if err := os.WriteFile(noSLO, []byte("listeners: [{name: p, address: \"127.0.0.1:0\"}]\nupstreams: [{name: a, targets: [{url: \"http://127.0.0.1:1\"}]}]\nroutes: [{name: r, upstream: a}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badOSLO := filepath.Join(dir, "bad.openslo.yaml")
	if err := os.WriteFile(badOSLO, []byte("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\nspec: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	prom := "http://127.0.0.1:9"
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{"slo"}, "only one is \"gate\""},
		{"no source", []string{"slo", "gate", "--prometheus", prom}, "exactly one of -c FILE and --openslo FILE"},
		{"two sources", []string{"slo", "gate", "-c", noSLO, "--openslo", badOSLO, "--prometheus", prom}, "exactly one of"},
		{"no prometheus", []string{"slo", "gate", "-c", noSLO}, "--prometheus URL is required"},
		{"bad url", []string{"slo", "gate", "-c", noSLO, "--prometheus", "localhost:9090"}, "want an http or https URL"},
		{"bad budget", []string{"slo", "gate", "-c", noSLO, "--prometheus", prom, "--min-budget", "120%"}, "--min-budget \"120%\""},
		{"bad line", []string{"slo", "gate", "-c", noSLO, "--prometheus", prom, "--fast-burn", "2:5s"}, "want FACTOR:LONG:SHORT"},
		{"bad factor", []string{"slo", "gate", "-c", noSLO, "--prometheus", prom, "--fast-burn", "-1:1h:5m"}, "factor \"-1\" must be a positive number"},
		{"short longer", []string{"slo", "gate", "-c", noSLO, "--prometheus", prom, "--fast-burn", "2:5m:1h"}, "short window 1h is longer than long window 5m"},
		{"bad window", []string{"slo", "gate", "-c", noSLO, "--prometheus", prom, "--fast-burn", "2:1x:5m"}, "long window: \"1x\""},
		{"missing file", []string{"slo", "gate", "-c", filepath.Join(dir, "none.yaml"), "--prometheus", prom}, "none.yaml"},
		{"no slos", []string{"slo", "gate", "-c", noSLO, "--prometheus", prom}, "no SLOs found in " + noSLO},
		{"bad openslo", []string{"slo", "gate", "--openslo", badOSLO, "--prometheus", prom}, badOSLO + ":"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := cli.Run(tc.args, &out, &errb); code != cli.ExitInvalid {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, cli.ExitInvalid, errb.String())
			}
			if !strings.Contains(errb.String(), tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, errb.String())
			}
		})
	}
}

// TestSLOGateUnreachable checks that a Prometheus that cannot be asked
// freezes (exit 1) rather than letting a deploy through.
func TestSLOGateUnreachable(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "levee.yaml")
	if err := os.WriteFile(cfg, []byte(gateConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := cli.Run([]string{"slo", "gate", "-c", cfg, "--prometheus", "http://" + freeAddr(t), "--timeout", "2s"}, &out, &errb)
	if code != cli.ExitFailure || !strings.Contains(errb.String(), `SLO "checkout": prometheus:`) {
		t.Errorf("exit %d, want %d with the failed query named; stderr:\n%s", code, cli.ExitFailure, errb.String())
	}
}
