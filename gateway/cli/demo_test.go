package cli_test

import (
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemo runs `levee demo` in process at a tenth of its pace (3s): it
// must print the dashboard's address first, a line per tick and the
// summary, answer every request, and leave nothing listening.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 3s")
	}
	code, out, errs := run("demo", "-scale", "0.1")
	if code != 0 {
		t.Fatalf("Run(demo -scale 0.1) = %d, want 0; stdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	t.Logf("levee demo -scale 0.1:\n%s", out)
	first, _, _ := strings.Cut(out, "\n")
	if !regexp.MustCompile(`^levee demo: dashboard on http://127\.0\.0\.1:\d+/dashboard/$`).MatchString(first) {
		t.Errorf("first line = %q, want the dashboard's address", first)
	}
	for _, phase := range []string{"steady", "incident", "recovery", "flood", "calm"} {
		if !strings.Contains(out, "── "+phase+" (") {
			t.Errorf("the output does not announce the %s phase", phase)
		}
	}
	if !regexp.MustCompile(`(?m)^ +\d+\.\ds +\d+ +\d+ +\d+ \| refused:`).MatchString(out) {
		t.Errorf("the output has no tick line")
	}
	if !regexp.MustCompile(`total: \d+ requests, \d+ answered, no answer 0\n`).MatchString(out) {
		t.Errorf("the output lacks the total, or a request got no answer")
	}
	addrs := regexp.MustCompile(`gateway on http://(\S+), admin on http://(\S+) `).FindStringSubmatch(out)
	if addrs == nil {
		t.Fatalf("the output lacks the gateway's addresses:\n%s", out)
	}
	for _, a := range addrs[1:] {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after the demo returned", a)
		}
	}
}

func TestDemoFlags(t *testing.T) {
	for _, args := range [][]string{
		{"demo", "-duration", "500ms"}, {"demo", "-duration", "-1s"}, {"demo", "extra"},
		{"demo", "-scale", "0"}, {"demo", "-scale", "11"}, {"demo", "-forever", "-duration", "5s"},
	} {
		if code, _, errs := run(args...); code != 2 || errs == "" {
			t.Errorf("Run(%q) = %d, %q; want 2 and a message", args, code, errs)
		}
	}
	if code, out, _ := run("help", "demo"); code != 0 || !regexp.MustCompile(`-duration`).MatchString(out) || !strings.Contains(out, "-scale") {
		t.Errorf("Run(help demo) = %d, %q; want 0 and the flags", code, out)
	}
}
