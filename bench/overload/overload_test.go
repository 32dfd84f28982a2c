package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"
)

// params are the test's short cells: the targets hold with a margin for a
// shared machine; the full matrix runs from the command line.
func testParams() Params {
	return Params{Workers: 8, Mean: 10 * time.Millisecond, Objective: 100 * time.Millisecond,
		Timeout: time.Second, Warmup: time.Second, Duration: 2 * time.Second, Seed: 1}
}

func TestOverloadTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a loopback server for about 15s; skipped with -short")
	}
	if raceEnabled {
		t.Skip("timing targets are measured without the race detector")
	}
	ctx := context.Background()
	p := testParams()
	unloaded, err := Unloaded(ctx, p, 2*time.Second)
	if err != nil {
		t.Fatalf("Unloaded = %v", err)
	}
	capacity := p.Capacity()

	t.Run("none collapses at 3x", func(t *testing.T) {
		r, err := Run(ctx, "none", 3, p, unloaded)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", r)
		if r.GoodputRPS > 0.5*capacity {
			t.Errorf("none at 3x: goodput = %.0f rps, want a collapse below %.0f", r.GoodputRPS, 0.5*capacity)
		}
	})

	t.Run("gradient2 holds at 3x", func(t *testing.T) {
		r, err := Run(ctx, "gradient2", 3, p, unloaded)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", r)
		// Targets: goodput >= 90% of capacity, p99 <= 2x unloaded p99,
		// converged within 2s; with 5% tolerance on a shared machine.
		if r.GoodputRPS < 0.85*capacity {
			t.Errorf("gradient2 at 3x: goodput = %.0f rps, want >= %.0f", r.GoodputRPS, 0.85*capacity)
		}
		if limit := 2.1 * r.UnloadedP99ms; r.P99ms > limit {
			t.Errorf("gradient2 at 3x: admitted p99 = %.1fms, want <= %.1fms (2x unloaded %.1fms)", r.P99ms, limit, r.UnloadedP99ms)
		}
		if r.ConvergeMs < 0 || r.ConvergeMs > 2000 {
			t.Errorf("gradient2 at 3x: converge = %vms, want within [0, 2000]", r.ConvergeMs)
		}
	})

	t.Run("shed keeps CRITICAL at 2x with half SHEDDABLE", func(t *testing.T) {
		q := p
		q.Sheddable = 0.5
		r, err := Run(ctx, "shed", 2, q, unloaded)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", r)
		// Target 95%, with tolerance.
		if r.CriticalGoodput < 0.92*r.CriticalOffered {
			t.Errorf("shed at 2x: CRITICAL goodput = %.0f rps, want >= 92%% of %.0f offered", r.CriticalGoodput, r.CriticalOffered)
		}
	})
}

func TestRunFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"unknown protection", []string{"-protect", "nope", "-load", "1", "-duration", "10ms"}},
		{"negative load", []string{"-load", "-1"}},
		{"sheddable above one", []string{"-sheddable", "2"}},
		{"zero workers", []string{"-workers", "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := run(tt.args, &bytes.Buffer{}); err == nil {
				t.Errorf("run(%q) = nil, want an error", tt.args)
			}
		})
	}
}

func TestRunJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a loopback server for a few seconds; skipped with -short")
	}
	var out bytes.Buffer
	args := []string{"-load", "0.5", "-protect", "static", "-duration", "300ms", "-warmup", "100ms", "-json"}
	if err := run(args, &out); err != nil {
		t.Fatalf("run(%q) = %v", args, err)
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("output %q is not one JSON object: %v", out.String(), err)
	}
	for _, k := range []string{"protect", "load", "offered_rps", "capacity_rps", "goodput_rps", "p50_ms", "p99_ms", "unloaded_p99_ms", "rejected_ratio", "converge_ms"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON output lacks %q: %s", k, out.String())
		}
	}
	if m["protect"] != "static" || m["load"] != 0.5 {
		t.Errorf("JSON output = %s, want protect static at load 0.5", out.String())
	}
}
