package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzParseBurnLines checks that any --fast-burn text either fails with an
// error or gives lines that are valid and read back the same when written
// in PromQL's duration syntax.
func FuzzParseBurnLines(f *testing.F) {
	for _, s := range []string{defaultFastBurn, "2:20s:5s", "1:3d:6h", "2:5s", "-1:1h:5m", "2:5m:1h", "2:1x:5m", "1e308:1500ms:1ms", ",", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lines, err := parseBurnLines(s)
		if err != nil {
			return
		}
		var parts []string
		for _, l := range lines {
			if !(l.Factor > 0) || l.Short <= 0 || l.Short > l.Long || l.Long%time.Millisecond != 0 || l.Short%time.Millisecond != 0 {
				t.Fatalf("%q: invalid line %+v accepted", s, l)
			}
			parts = append(parts, fmt.Sprintf("%v:%s:%s", l.Factor, promDuration(l.Long), promDuration(l.Short)))
		}
		again, err := parseBurnLines(strings.Join(parts, ","))
		if err != nil {
			t.Fatalf("%q read as %v, which does not read back: %v", s, parts, err)
		}
		for i := range lines {
			if again[i] != lines[i] {
				t.Fatalf("%q: line %d %+v reads back as %+v", s, i, lines[i], again[i])
			}
		}
	})
}

// FuzzParsePercent checks that --min-budget is a fraction in [0, 1] or an
// error.
func FuzzParsePercent(f *testing.F) {
	for _, s := range []string{"10%", "10", "0.5%", "100%", "120%", "-1%", "NaN", "%", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parsePercent(s)
		if err == nil && !(v >= 0 && v <= 1) {
			t.Fatalf("%q read as %v, outside [0, 1]", s, v)
		}
	})
}
