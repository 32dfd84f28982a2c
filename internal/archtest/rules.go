package archtest

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Core is the import path of the core module.
const Core = "github.com/levee-go/levee"

// Policies are the policy packages: they import only the root package,
// clock, internal/... and the standard library, never each other or an
// adapter.
var Policies = []string{"breaker", "ratelimit", "concurrency", "shed", "retry", "hedge",
	"timelimit", "fallback", "chaos"}

// A Rule says which of the repository's own packages the packages under
// Prefix (a path relative to [Core], "" for the root package) may import
// directly. Allowed entries are relative paths too; an entry ending in "/..."
// allows a whole subtree, "public" allows every package of the core module
// that is not internal, and "any" allows everything.
type Rule struct {
	Prefix  string
	Allowed []string
}

// Rules are the design's import rules (DESIGN.md, "Package map"). Every
// package of every module must fall under one of them: a new folder without
// a rule fails the test, so the rules cover the whole repository.
func Rules() []Rule {
	base := []string{"", "clock", "internal/..."}
	rules := []Rule{
		{"", []string{"clock"}},
		{"clock", nil},
		{"clock/clocktest", []string{"clock"}},
		{"internal", []string{"", "clock", "clock/clocktest", "internal/..."}},
		{"health", base},
		{"slo", base},
		{"flags", base},
		{"lifecycle", append(slices.Clone(base), "health")},
		{"leveehttp", base},
		// Modules beside the core never reach into its internals.
		{"leveegrpc", []string{"", "clock"}},
		{"redislimit", []string{"", "clock", "redislimit/internal/..."}},
		// leveesql retries transactions with the retry policy and lets any
		// policy (a breaker) wrap each attempt through the root package.
		{"leveesql", []string{"", "clock", "retry"}},
		// leveemq consumes messages through the retry backoff and a
		// concurrency gate (its default bulkhead); other policies reach it as
		// levee.Gate values.
		{"leveemq", []string{"", "clock", "retry", "concurrency", "leveemq"}},
		// The web-framework adapters answer as leveehttp does, with its
		// options and writers, and nothing else of the core.
		{"leveegin", []string{"", "clock", "leveehttp"}},
		{"leveeecho", []string{"", "clock", "leveehttp"}},
		{"observe", []string{"public", "observe/..."}},
		// leveevet reads source, never runs it: it needs none of the core.
		{"leveevet", []string{"leveevet/..."}},
		{"gateway", []string{"public", "gateway/...", "observe/...", "redislimit", "leveegrpc"}},
		{"examples", []string{"public", "observe/...", "redislimit", "leveegrpc"}},
		{"bench", []string{"any"}},
	}
	for _, p := range Policies {
		rules = append(rules, Rule{p, base})
	}
	return rules
}

// ruleFor returns the rule with the longest prefix that covers rel.
func ruleFor(rules []Rule, rel string) (Rule, bool) {
	var best Rule
	found := false
	for _, r := range rules {
		covers := r.Prefix == rel || (r.Prefix != "" && strings.HasPrefix(rel, r.Prefix+"/"))
		if covers && (!found || len(r.Prefix) > len(best.Prefix)) {
			best, found = r, true
		}
	}
	return best, found
}

func allows(r Rule, pkgRel, dep string) bool {
	if dep == pkgRel || strings.HasPrefix(dep, pkgRel+"/") {
		return true // a package's own subpackages
	}
	for _, a := range r.Allowed {
		switch {
		case a == "any":
			return true
		case a == "public":
			if dep != "internal" && !strings.HasPrefix(dep, "internal/") && !strings.Contains(dep, "/internal") {
				if top, _, _ := strings.Cut(dep, "/"); top != "examples" && top != "bench" {
					return true
				}
			}
		case strings.HasSuffix(a, "/..."):
			root := strings.TrimSuffix(a, "/...")
			if dep == root || strings.HasPrefix(dep, root+"/") {
				return true
			}
		case a == dep:
			return true
		}
	}
	return false
}

// Violations checks imports (a package's import path → the import paths it
// imports directly) against rules and returns one message per broken rule,
// sorted.
func Violations(rules []Rule, imports map[string][]string) []string {
	var out []string
	for pkg, ds := range imports {
		if pkg != Core && !strings.HasPrefix(pkg, Core+"/") {
			out = append(out, fmt.Sprintf("%s: outside %s", pkg, Core))
			continue
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, Core), "/")
		r, ok := ruleFor(rules, rel)
		if !ok {
			out = append(out, fmt.Sprintf("%s: no import rule covers this package; add one to archtest.Rules", pkg))
			continue
		}
		for _, d := range ds {
			if d != Core && !strings.HasPrefix(d, Core+"/") {
				continue // standard library and third parties: see TestModuleImports
			}
			drel := strings.TrimPrefix(strings.TrimPrefix(d, Core), "/")
			if !allows(r, rel, drel) {
				out = append(out, fmt.Sprintf("%s imports %s, which the rule for %q does not allow", pkg, d, r.Prefix))
			}
		}
	}
	sort.Strings(out)
	return out
}
