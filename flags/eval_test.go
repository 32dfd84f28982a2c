package flags_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/levee-go/levee/flags"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustSet(t testing.TB, fs ...flags.Flag) *flags.Set {
	t.Helper()
	s, err := flags.NewSet(fs...)
	if err != nil {
		t.Fatalf("NewSet: %v", err)
	}
	return s
}

func attrs(a ...flags.Attribute) flags.EvaluationContext {
	return flags.EvaluationContext{Attributes: a}
}

func TestBooleanFlag(t *testing.T) {
	s := mustSet(t,
		flags.Flag{Key: "plain"},
		flags.Flag{Key: "on", Fallthrough: flags.Serve{Variant: "on"}},
		flags.Flag{Key: "killed", Disabled: true, Fallthrough: flags.Serve{Variant: "on"}},
	)
	tests := []struct {
		key     string
		variant string
		value   bool
		reason  flags.Reason
	}{
		{"plain", "off", false, flags.ReasonDefault},
		{"on", "on", true, flags.ReasonStatic},
		{"killed", "off", false, flags.ReasonDisabled},
	}
	for _, tt := range tests {
		r := s.EvaluateAt(tt.key, flags.EvaluationContext{}, t0)
		v, ok := r.AsBool()
		if r.Variant != tt.variant || !ok || v != tt.value || r.Reason != tt.reason || r.Rule != -1 || r.Err != nil {
			t.Errorf("EvaluateAt(%q) = %+v, want variant %q value %v reason %v", tt.key, r, tt.variant, tt.value, tt.reason)
		}
	}
	r := s.EvaluateAt("absent", flags.EvaluationContext{}, t0)
	if r.Reason != flags.ReasonError || !errors.Is(r.Err, flags.ErrFlagNotFound) || r.Value != nil {
		t.Errorf("EvaluateAt(absent) = %+v, want ERROR with ErrFlagNotFound", r)
	}
}

func TestMultiVariantValues(t *testing.T) {
	s := mustSet(t, flags.Flag{
		Key: "theme",
		Variants: []flags.Variant{
			{Name: "dark", Value: "dark"},
			{Name: "limit", Value: 42}, // an int is served as a float64
			{Name: "config", Value: map[string]any{"columns": 3, "tags": []any{"a", true}}},
		},
		Default: "dark",
		Rules: []flags.Rule{
			{Conditions: []flags.Condition{{Attribute: "plan", Op: flags.OpEquals, Values: []string{"pro"}}}, Serve: flags.Serve{Variant: "limit"}},
			{Conditions: []flags.Condition{{Attribute: "plan", Op: flags.OpEquals, Values: []string{"team"}}}, Serve: flags.Serve{Variant: "config"}},
		},
	})
	if r := s.EvaluateAt("theme", flags.EvaluationContext{}, t0); r.Variant != "dark" || r.Value != "dark" || r.Reason != flags.ReasonDefault {
		t.Errorf("no attributes = %+v, want dark by DEFAULT", r)
	}
	r := s.EvaluateAt("theme", attrs(flags.StringAttr("plan", "pro")), t0)
	if n, ok := r.AsNumber(); !ok || n != 42 || r.Rule != 0 || r.Reason != flags.ReasonTargetingMatch {
		t.Errorf("plan=pro = %+v, want 42.0 by rule 0", r)
	}
	r = s.EvaluateAt("theme", attrs(flags.StringAttr("plan", "team")), t0)
	m, ok := r.Value.(map[string]any)
	if !ok || m["columns"] != 3.0 || r.Rule != 1 {
		t.Errorf("plan=team = %+v, want the config map (columns 3.0) by rule 1", r)
	}
}

func TestConditions(t *testing.T) {
	cond := func(attr string, op flags.Op, values ...string) flags.Condition {
		return flags.Condition{Attribute: attr, Op: op, Values: values}
	}
	tests := []struct {
		name string
		cond flags.Condition
		attr flags.Attribute
		want bool
	}{
		{"equals", cond("country", flags.OpEquals, "FR"), flags.StringAttr("country", "FR"), true},
		{"equals other", cond("country", flags.OpEquals, "FR"), flags.StringAttr("country", "fr"), false},
		{"equals number", cond("age", flags.OpEquals, "30"), flags.NumberAttr("age", 30), true},
		{"equals bool", cond("beta", flags.OpEquals, "true"), flags.BoolAttr("beta", true), true},
		{"in", cond("country", flags.OpIn, "FR", "DE", "IT"), flags.StringAttr("country", "DE"), true},
		{"in none", cond("country", flags.OpIn, "FR", "DE"), flags.StringAttr("country", "US"), false},
		{"in numbers", cond("tier", flags.OpIn, "1", "2.0"), flags.NumberAttr("tier", 2), true},
		{"prefix", cond("email", flags.OpPrefix, "admin@"), flags.StringAttr("email", "admin@x.io"), true},
		{"prefix no", cond("email", flags.OpPrefix, "admin@"), flags.StringAttr("email", "bob@x.io"), false},
		{"suffix", cond("email", flags.OpSuffix, "@levee.dev"), flags.StringAttr("email", "a@levee.dev"), true},
		{"contains", cond("ua", flags.OpContains, "Firefox"), flags.StringAttr("ua", "Mozilla Firefox/1"), true},
		{"regex", cond("email", flags.OpRegex, `^[a-z]+@levee\.dev$`), flags.StringAttr("email", "ann@levee.dev"), true},
		{"regex no", cond("email", flags.OpRegex, `^[a-z]+@levee\.dev$`), flags.StringAttr("email", "ann@levee.dev.evil"), false},
		{"regex number", cond("code", flags.OpRegex, `^4\d\d$`), flags.NumberAttr("code", 404), true},
		{"lt", cond("age", flags.OpLess, "18"), flags.NumberAttr("age", 17), true},
		{"lt equal", cond("age", flags.OpLess, "18"), flags.NumberAttr("age", 18), false},
		{"le", cond("age", flags.OpLessOrEqual, "18"), flags.NumberAttr("age", 18), true},
		{"gt text", cond("age", flags.OpGreater, "18"), flags.StringAttr("age", "19.5"), true},
		{"gt not a number", cond("age", flags.OpGreater, "18"), flags.StringAttr("age", "old"), false},
		{"ge", cond("age", flags.OpGreaterOrEqual, "18"), flags.NumberAttr("age", 18), true},
		{"semver gt", cond("app", flags.OpVersionGreater, "1.9.0"), flags.StringAttr("app", "1.10.0"), true},
		{"semver gt v", cond("app", flags.OpVersionGreater, "v1.9.0"), flags.StringAttr("app", "v1.9.1"), true},
		{"semver prerelease below release", cond("app", flags.OpVersionLess, "2.0.0"), flags.StringAttr("app", "2.0.0-rc.1"), true},
		{"semver ge", cond("app", flags.OpVersionGreaterOrEqual, "2.0.0-rc.2"), flags.StringAttr("app", "2.0.0-rc.10"), true},
		{"semver eq build ignored", cond("app", flags.OpVersionEqual, "1.2.3"), flags.StringAttr("app", "1.2.3+abc"), true},
		{"semver le", cond("app", flags.OpVersionLessOrEqual, "1.2"), flags.StringAttr("app", "1.2.0"), true},
		{"semver not a version", cond("app", flags.OpVersionLess, "2.0.0"), flags.StringAttr("app", "latest"), false},
		{"negate", flags.Condition{Attribute: "country", Op: flags.OpEquals, Values: []string{"FR"}, Negate: true}, flags.StringAttr("country", "US"), true},
		{"negate missing", flags.Condition{Attribute: "country", Op: flags.OpEquals, Values: []string{"FR"}, Negate: true}, flags.StringAttr("other", "US"), false},
		{"missing", cond("country", flags.OpEquals, "FR"), flags.StringAttr("region", "FR"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSet(t, flags.Flag{Key: "f", Rules: []flags.Rule{{Conditions: []flags.Condition{tt.cond}, Serve: flags.Serve{Variant: "on"}}}})
			r := s.EvaluateAt("f", attrs(tt.attr), t0)
			if got := r.Variant == "on"; got != tt.want {
				t.Errorf("%v %v against %+v matched = %v, want %v", tt.cond.Op, tt.cond.Values, tt.attr, got, tt.want)
			}
		})
	}
}

func TestTargetingKeyAttribute(t *testing.T) {
	s := mustSet(t, flags.Flag{Key: "f", Rules: []flags.Rule{{
		Conditions: []flags.Condition{{Attribute: flags.TargetingKeyAttribute, Op: flags.OpIn, Values: []string{"u1", "u2"}}},
		Serve:      flags.Serve{Variant: "on"},
	}}})
	if r := s.EvaluateAt("f", flags.EvaluationContext{TargetingKey: "u2"}, t0); r.Variant != "on" {
		t.Errorf("targeting key u2 = %+v, want on", r)
	}
	if r := s.EvaluateAt("f", flags.EvaluationContext{TargetingKey: "u3"}, t0); r.Variant != "off" {
		t.Errorf("targeting key u3 = %+v, want off", r)
	}
}

func TestRulesInOrder(t *testing.T) {
	s := mustSet(t, flags.Flag{
		Key:      "tier",
		Variants: []flags.Variant{{Name: "a", Value: "a"}, {Name: "b", Value: "b"}, {Name: "c", Value: "c"}},
		Default:  "c",
		Rules: []flags.Rule{
			{Conditions: []flags.Condition{{Attribute: "n", Op: flags.OpGreater, Values: []string{"10"}}}, Serve: flags.Serve{Variant: "a"}},
			{Conditions: []flags.Condition{
				{Attribute: "n", Op: flags.OpGreater, Values: []string{"5"}},
				{Attribute: "country", Op: flags.OpEquals, Values: []string{"FR"}},
			}, Serve: flags.Serve{Variant: "b"}},
		},
	})
	tests := []struct {
		n       float64
		country string
		variant string
		rule    int
	}{
		{20, "FR", "a", 0}, // both rules match: the first wins
		{7, "FR", "b", 1},
		{7, "DE", "c", -1}, // rule 1 needs both conditions
		{1, "FR", "c", -1},
	}
	for _, tt := range tests {
		r := s.EvaluateAt("tier", attrs(flags.NumberAttr("n", tt.n), flags.StringAttr("country", tt.country)), t0)
		if r.Variant != tt.variant || r.Rule != tt.rule {
			t.Errorf("n=%v country=%s = %+v, want %s by rule %d", tt.n, tt.country, r, tt.variant, tt.rule)
		}
	}
}

func pct(p float64) flags.Flag {
	return flags.Flag{Key: "rollout", Fallthrough: flags.Serve{Split: []flags.Weight{{Variant: "on", Percent: p}, {Variant: "off", Percent: 100 - p}}}}
}

// TestSplitShare checks the share of a 10% rollout over 1,000,000 keys.
func TestSplitShare(t *testing.T) {
	s := mustSet(t, pct(10))
	const n = 1_000_000
	on := 0
	ec := flags.EvaluationContext{}
	buf := make([]byte, 0, 32)
	for i := range n {
		buf = strconv.AppendInt(append(buf[:0], "user-"...), int64(i), 10)
		ec.TargetingKey = string(buf)
		r := s.EvaluateAt("rollout", ec, t0)
		if r.Reason != flags.ReasonSplit {
			t.Fatalf("reason %v, want SPLIT", r.Reason)
		}
		if r.Variant == "on" {
			on++
		}
	}
	share := 100 * float64(on) / n
	if share < 9.7 || share > 10.3 {
		t.Errorf("share of 1,000,000 keys at 10%% = %.3f%%, want within ±0.3 points", share)
	}
}

// TestSplitSticky checks that two independently built sets agree, and that
// growing a rollout from 10% to 20% keeps everyone who was in.
func TestSplitSticky(t *testing.T) {
	a, b := mustSet(t, pct(10)), mustSet(t, pct(10))
	wider := mustSet(t, pct(20))
	in10, in20 := 0, 0
	for i := range 100_000 {
		ec := flags.EvaluationContext{TargetingKey: "acct-" + strconv.Itoa(i)}
		ra, rb, rw := a.EvaluateAt("rollout", ec, t0), b.EvaluateAt("rollout", ec, t0), wider.EvaluateAt("rollout", ec, t0)
		if ra.Variant != rb.Variant {
			t.Fatalf("key %s: %s in one set, %s in another", ec.TargetingKey, ra.Variant, rb.Variant)
		}
		if ra.Variant == "on" {
			in10++
			if rw.Variant != "on" {
				t.Fatalf("key %s was in at 10%% and is out at 20%%", ec.TargetingKey)
			}
		}
		if rw.Variant == "on" {
			in20++
		}
	}
	if in20 < 2*in10*9/10 {
		t.Errorf("in at 10%%: %d, at 20%%: %d; want about twice", in10, in20)
	}
}

// TestBucketVectors pins the bucketing hash, so a change to it (which would
// move users between variants on upgrade) fails, and other implementations
// have values to check against (a Python version of the documented
// algorithm gives the same five).
func TestBucketVectors(t *testing.T) {
	tests := []struct {
		salt, key string
		want      uint32
	}{
		{"", "", 0},
		{"new-checkout", "user-1", 36446},
		{"new-checkout", "user-2", 19165},
		{"dark-mode", "acct-42", 27113},
		{"a-salt-longer-than-16", "a-key-of-exactly-24-byte", 83434},
	}
	for _, tt := range tests {
		if got := flags.Bucket(tt.salt, tt.key); got != tt.want {
			t.Errorf("Bucket(%q, %q) = %d, want %d", tt.salt, tt.key, got, tt.want)
		}
	}
}

func TestSaltKeepsBuckets(t *testing.T) {
	old := mustSet(t, pct(30))
	f := pct(30)
	f.Key, f.Salt = "renamed", "rollout"
	renamed := mustSet(t, f)
	for i := range 10_000 {
		ec := flags.EvaluationContext{TargetingKey: strconv.Itoa(i)}
		if a, b := old.EvaluateAt("rollout", ec, t0).Variant, renamed.EvaluateAt("renamed", ec, t0).Variant; a != b {
			t.Fatalf("key %d: %s before the rename, %s after", i, a, b)
		}
	}
}

func TestSplitWithoutTargetingKey(t *testing.T) {
	s := mustSet(t, pct(50))
	r := s.EvaluateAt("rollout", flags.EvaluationContext{}, t0)
	if r.Reason != flags.ReasonError || !errors.Is(r.Err, flags.ErrTargetingKeyMissing) || r.Variant != "off" {
		t.Errorf("split without targeting key = %+v, want the default with ErrTargetingKeyMissing", r)
	}
}

func TestSplitInRule(t *testing.T) {
	s := mustSet(t, flags.Flag{Key: "f", Rules: []flags.Rule{{
		Conditions: []flags.Condition{{Attribute: "beta", Op: flags.OpEquals, Values: []string{"true"}}},
		Serve:      flags.Serve{Split: []flags.Weight{{Variant: "on", Percent: 100}}},
	}}})
	r := s.EvaluateAt("f", flags.EvaluationContext{TargetingKey: "u", Attributes: []flags.Attribute{flags.BoolAttr("beta", true)}}, t0)
	if r.Variant != "on" || r.Reason != flags.ReasonSplit || r.Rule != 0 {
		t.Errorf("split in rule 0 = %+v, want on by SPLIT of rule 0", r)
	}
}

func TestProgressiveRollout(t *testing.T) {
	start, end := t0, t0.Add(10*time.Hour)
	s := mustSet(t, flags.Flag{Key: "rollout", Fallthrough: flags.Serve{Progressive: &flags.Progressive{
		From: "off", To: "on", Start: start, End: end, StartPercent: 0, EndPercent: 100,
	}}})
	const n = 20_000
	share := func(at time.Time) (float64, map[int]bool) {
		in := map[int]bool{}
		for i := range n {
			r := s.EvaluateAt("rollout", flags.EvaluationContext{TargetingKey: "k" + strconv.Itoa(i)}, at)
			if r.Variant == "on" {
				in[i] = true
			}
		}
		return 100 * float64(len(in)) / n, in
	}
	tests := []struct {
		at       time.Time
		lo, high float64
	}{
		{start.Add(-time.Hour), 0, 0},
		{start, 0, 0},
		{start.Add(2 * time.Hour), 18, 22},
		{start.Add(5 * time.Hour), 48, 52},
		{end, 100, 100},
		{end.Add(time.Hour), 100, 100},
	}
	var prev map[int]bool
	for _, tt := range tests {
		got, in := share(tt.at)
		if got < tt.lo || got > tt.high {
			t.Errorf("share at start%+v = %.2f%%, want %v–%v", tt.at.Sub(start), got, tt.lo, tt.high)
		}
		for k := range prev {
			if !in[k] {
				t.Fatalf("key %d was in at an earlier instant and is out at start%+v", k, tt.at.Sub(start))
			}
		}
		prev = in
	}
}

func TestOpNames(t *testing.T) {
	for op := flags.OpEquals; op <= flags.OpVersionGreaterOrEqual; op++ {
		name := op.String()
		if got, ok := flags.ParseOp(name); !ok || got != op || name == "unknown" {
			t.Errorf("ParseOp(%v.String() = %q) = %v, %v; want %v, true", uint8(op), name, got, ok, op)
		}
	}
	for _, bad := range []string{"", "unknown", "EQUALS", "=="} {
		if op, ok := flags.ParseOp(bad); ok {
			t.Errorf("ParseOp(%q) = %v, true; want false", bad, op)
		}
	}
	if s := flags.Op(0).String(); s != "unknown" {
		t.Errorf("Op(0).String() = %q, want unknown", s)
	}
}

func TestReasonNames(t *testing.T) {
	want := map[flags.Reason]string{flags.ReasonDefault: "DEFAULT", flags.ReasonStatic: "STATIC",
		flags.ReasonTargetingMatch: "TARGETING_MATCH", flags.ReasonSplit: "SPLIT",
		flags.ReasonDisabled: "DISABLED", flags.ReasonError: "ERROR", 0: "UNKNOWN"}
	for r, name := range want {
		if got := r.String(); got != name {
			t.Errorf("Reason(%d).String() = %q, want %q", uint8(r), got, name)
		}
	}
}

func TestZeroSet(t *testing.T) {
	var zero flags.Set
	var nilSet *flags.Set
	for _, s := range []*flags.Set{&zero, nilSet} {
		if r := s.EvaluateAt("x", flags.EvaluationContext{}, t0); !errors.Is(r.Err, flags.ErrFlagNotFound) {
			t.Errorf("EvaluateAt on an empty set = %+v, want ErrFlagNotFound", r)
		}
		if k := s.Keys(); len(k) != 0 {
			t.Errorf("Keys() = %v, want none", k)
		}
		if _, ok := s.Flag("x"); ok {
			t.Error("Flag(x) found on an empty set")
		}
	}
}
