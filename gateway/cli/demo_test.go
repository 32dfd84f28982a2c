package cli_test

import (
	"net"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestDemo runs the demo in-process for 5s: the payments upstream fails
// from 0.75s to 2.25s, so its breaker must open, answer for it, and close
// again once a probe finds it healed; every request must be answered; and
// when the demo returns, nothing it started may still listen.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 5s")
	}
	code, out, errs := run("demo", "-duration", "5s")
	if code != 0 {
		t.Fatalf("Run(demo) = %d, want 0; stdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	t.Logf("levee demo -duration 5s:\n%s", out)
	number := func(re string) int {
		t.Helper()
		m := regexp.MustCompile(re).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("the output lacks %s:\n%s", re, out)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	if n := number(`summary: \d+ requests, (\d+) answered`); n < 100 {
		t.Errorf("%d requests answered, want at least 100", n)
	}
	if n := number(`no answer (\d+)`); n != 0 {
		t.Errorf("%d requests got no answer, want 0", n)
	}
	if n := number(`503 breaker (\d+)`); n == 0 {
		t.Errorf("no request was refused by the open breaker")
	}
	if n := number(`2xx (\d+)`); n == 0 {
		t.Errorf("no request succeeded")
	}
	opened := regexp.MustCompile(`payments breaker: opened (once|\d+ times), closed (once|\d+ times); now closed`).FindStringSubmatch(out)
	if opened == nil || opened[1] == "0 times" || opened[2] == "0 times" {
		t.Errorf("the payments breaker did not open, close and end closed:\n%s", out)
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
	for _, args := range [][]string{{"demo", "-duration", "1s"}, {"demo", "-duration", "-1s"}, {"demo", "extra"}} {
		if code, _, errs := run(args...); code != 2 || errs == "" {
			t.Errorf("Run(%q) = %d, %q; want 2 and a message", args, code, errs)
		}
	}
	if code, out, _ := run("help", "demo"); code != 0 || !regexp.MustCompile(`-duration`).MatchString(out) {
		t.Errorf("Run(help demo) = %d, %q; want 0 and the flags", code, out)
	}
}
