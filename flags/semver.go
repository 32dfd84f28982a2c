package flags

import "strings"

// version is a parsed semantic version; build metadata is dropped, as
// semver precedence ignores it.
type version struct {
	core [3]uint64
	pre  string // without the '-'; empty for a release
}

// parseVersion parses an optional "v", MAJOR.MINOR.PATCH, an optional
// -prerelease and an optional +build. MINOR and PATCH may be left out
// ("v2", "1.4"), as apps often report them. It does not allocate.
func parseVersion(s string) (version, bool) {
	var v version
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		if i == len(s)-1 {
			return v, false
		}
		s = s[:i]
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		v.pre = s[i+1:]
		s = s[:i]
		if !validPrerelease(v.pre) {
			return v, false
		}
	}
	for part := 0; part < 3; part++ {
		n, rest, ok := parseNumber(s)
		if !ok {
			return v, false
		}
		v.core[part] = n
		if rest == "" {
			return v, true
		}
		if rest[0] != '.' || part == 2 {
			return v, false
		}
		s = rest[1:]
	}
	return v, false
}

// parseNumber reads a run of digits (at most 18, so it cannot overflow;
// no leading zero) from the start of s.
func parseNumber(s string) (n uint64, rest string, ok bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if i == 18 {
			return 0, s, false
		}
		n = n*10 + uint64(s[i]-'0')
		i++
	}
	if i == 0 || (i > 1 && s[0] == '0') {
		return 0, s, false
	}
	return n, s[i:], true
}

func validPrerelease(pre string) bool {
	if pre == "" {
		return false
	}
	for id := range strings.SplitSeq(pre, ".") {
		if id == "" {
			return false
		}
		if _, num := numeric(id); num && len(id) > 1 && id[0] == '0' {
			return false // semver forbids leading zeros in numeric identifiers
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
		}
	}
	return true
}

// compareVersions returns -1, 0 or 1 by semver precedence: the core
// numbers, then a release above any of its prereleases, then prerelease
// identifiers one by one (numeric ones numerically and below alphanumeric
// ones; a shorter list first when all else is equal).
func compareVersions(a, b version) int {
	for i := range a.core {
		if a.core[i] != b.core[i] {
			if a.core[i] < b.core[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1
	case b.pre == "":
		return -1
	}
	x, y := a.pre, b.pre
	for x != "" && y != "" {
		var ix, iy string
		ix, x, _ = strings.Cut(x, ".")
		iy, y, _ = strings.Cut(y, ".")
		if c := compareIdent(ix, iy); c != 0 {
			return c
		}
	}
	switch {
	case x == "" && y == "":
		return 0
	case x == "":
		return -1
	}
	return 1
}

func compareIdent(a, b string) int {
	na, an := numeric(a)
	nb, bn := numeric(b)
	switch {
	case an && bn:
		if na != nb {
			if na < nb {
				return -1
			}
			return 1
		}
		return 0
	case an:
		return -1
	case bn:
		return 1
	}
	return strings.Compare(a, b)
}

// numeric reports whether id is all digits, and its value. Identifiers too
// long for a uint64 compare as text, which orders equal-length digit runs
// correctly.
func numeric(id string) (uint64, bool) {
	if len(id) > 18 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return 0, false
		}
		n = n*10 + uint64(id[i]-'0')
	}
	return n, true
}
