package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/levee-go/levee/breaker"
)

// TestRun plays the scenario five times faster and checks that the breaker
// opened, probed, and closed again once the server recovered.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	states, err := run(t.Context(), &out, 200*time.Millisecond)
	if err != nil {
		t.Fatalf("run() = %v", err)
	}
	t.Logf("output:\n%s", out.String())
	want := []breaker.State{breaker.Closed, breaker.Open, breaker.HalfOpen, breaker.Closed}
	if !isSubsequence(want, states) {
		t.Fatalf("run() went through %v, want %v in that order", states, want)
	}
	if last := states[len(states)-1]; last != breaker.Closed {
		t.Errorf("run() ended %v, want closed", last)
	}
	for _, s := range []string{"closed -> open: failure_rate", "open -> half_open", "half_open -> closed", "rejected="} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q", s)
		}
	}
}

func isSubsequence(want, got []breaker.State) bool {
	for _, s := range got {
		if len(want) > 0 && s == want[0] {
			want = want[1:]
		}
	}
	return len(want) == 0
}
