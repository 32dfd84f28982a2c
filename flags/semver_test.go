package flags

import "testing"

func TestCompareVersions(t *testing.T) {
	// The precedence chain of semver.org §11, then a few of our own.
	chain := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
		"1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "v1.10.0", "2"}
	for i := range chain {
		for j := range chain {
			a, okA := parseVersion(chain[i])
			b, okB := parseVersion(chain[j])
			if !okA || !okB {
				t.Fatalf("parseVersion(%q, %q) = %v, %v; want both ok", chain[i], chain[j], okA, okB)
			}
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := compareVersions(a, b); got != want {
				t.Errorf("compareVersions(%s, %s) = %d, want %d", chain[i], chain[j], got, want)
			}
		}
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		want version
	}{
		{"1.2.3", true, version{core: [3]uint64{1, 2, 3}}},
		{"v1.2.3-rc.1+build.5", true, version{core: [3]uint64{1, 2, 3}, pre: "rc.1"}},
		{"1.2", true, version{core: [3]uint64{1, 2, 0}}},
		{"", false, version{}},
		{"1.2.3.4", false, version{}},
		{"01.2.3", false, version{}},
		{"1..3", false, version{}},
		{"1.2.3-", false, version{}},
		{"1.2.3-a..b", false, version{}},
		{"1.2.3-01", false, version{}},
		{"1.2.3-0a.0", true, version{core: [3]uint64{1, 2, 3}, pre: "0a.0"}},
		{"1.2.3+", false, version{}},
		{"1.2.x", false, version{}},
		{"9999999999999999999.0.0", false, version{}},
	}
	for _, tt := range tests {
		got, ok := parseVersion(tt.in)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("parseVersion(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzCompareVersions checks that parsing never panics and that the order
// is antisymmetric and reflexive.
func FuzzCompareVersions(f *testing.F) {
	for _, s := range [][2]string{{"1.0.0-alpha", "1.0.0-alpha.1"}, {"1.0.0-beta.11", "1.0.0-beta.2"},
		{"v1.2.3+b", "1.2.3"}, {"1.2", "1.2.0"}, {"01.2.3", "1..3"}, {"1.0.0-0a", "1.0.0-00"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		va, okA := parseVersion(a)
		vb, okB := parseVersion(b)
		if okA && compareVersions(va, va) != 0 {
			t.Fatalf("compareVersions(%q, itself) != 0", a)
		}
		if okA && okB {
			if x, y := compareVersions(va, vb), compareVersions(vb, va); x != -y {
				t.Fatalf("compareVersions(%q, %q) = %d but reversed = %d", a, b, x, y)
			}
		}
	})
}
