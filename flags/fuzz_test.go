package flags_test

import (
	"errors"
	"testing"

	"github.com/levee-go/levee/flags"
)

// FuzzEvaluate builds a flag from fuzzed parts and evaluates it: building
// either succeeds or fails with a *DefinitionError, never a panic; a built
// flag evaluates the same way twice, serves one of its variants, and a
// negated condition matches exactly when the plain one does not.
func FuzzEvaluate(f *testing.F) {
	seeds := []struct {
		op      uint8
		value   string
		text    string
		num     float64
		isNum   bool
		key     string
		percent float64
	}{
		{uint8(flags.OpEquals), "FR", "FR", 0, false, "user-1", 10},
		{uint8(flags.OpIn), "30", "", 30, true, "user-2", 50},
		{uint8(flags.OpPrefix), "admin@", "admin@x.io", 0, false, "", 100},
		{uint8(flags.OpSuffix), "@levee.dev", "a@levee.dev", 0, false, "k", 0},
		{uint8(flags.OpContains), "Fire", "Firefox", 0, false, "k", 33.333},
		{uint8(flags.OpRegex), `^4\d\d$`, "", 404, true, "acct-9", 99.999},
		{uint8(flags.OpRegex), `(`, "x", 0, false, "k", 10},
		{uint8(flags.OpLess), "18", "17", 0, false, "k", 10},
		{uint8(flags.OpGreaterOrEqual), "1e3", "", 1000, true, "k", 10},
		{uint8(flags.OpGreater), "ten", "11", 0, false, "k", 10},
		{uint8(flags.OpVersionGreater), "1.9.0", "1.10.0", 0, false, "k", 10},
		{uint8(flags.OpVersionLess), "2.0.0", "2.0.0-rc.1", 0, false, "k", 10},
		{uint8(flags.OpVersionEqual), "1.2.3", "v1.2.3+build", 0, false, "k", 10},
		{0, "x", "x", 0, false, "k", 10},
		{200, "x", "x", 0, false, "k", -5},
	}
	for _, s := range seeds {
		f.Add(s.op, s.value, s.text, s.num, s.isNum, s.key, s.percent)
	}
	f.Fuzz(func(t *testing.T, op uint8, value, text string, num float64, isNum bool, key string, percent float64) {
		cond := flags.Condition{Attribute: "x", Op: flags.Op(op), Values: []string{value}}
		neg := cond
		neg.Negate = true
		split := flags.Serve{Split: []flags.Weight{{Variant: "on", Percent: percent}, {Variant: "off", Percent: 100 - percent}}}
		set, err := flags.NewSet(
			flags.Flag{Key: "split", Rules: []flags.Rule{{Conditions: []flags.Condition{cond}, Serve: split}}},
			flags.Flag{Key: "plain", Rules: []flags.Rule{{Conditions: []flags.Condition{cond}, Serve: flags.Serve{Variant: "on"}}}},
			flags.Flag{Key: "negated", Rules: []flags.Rule{{Conditions: []flags.Condition{neg}, Serve: flags.Serve{Variant: "on"}}}},
		)
		if err != nil {
			var de *flags.DefinitionError
			if !errors.As(err, &de) || set != nil {
				t.Fatalf("NewSet = %v, %v; want nil and a *DefinitionError", set, err)
			}
			return
		}
		attr := flags.StringAttr("x", text)
		if isNum {
			attr = flags.NumberAttr("x", num)
		}
		ec := flags.EvaluationContext{TargetingKey: key, Attributes: []flags.Attribute{attr}}
		r := set.EvaluateAt("split", ec, t0)
		if again := set.EvaluateAt("split", ec, t0); again != r {
			t.Fatalf("two evaluations differ: %+v then %+v", r, again)
		}
		if r.Variant != "on" && r.Variant != "off" {
			t.Fatalf("variant %q, want on or off", r.Variant)
		}
		switch r.Reason {
		case flags.ReasonSplit, flags.ReasonDefault:
		case flags.ReasonError:
			if key != "" || !errors.Is(r.Err, flags.ErrTargetingKeyMissing) {
				t.Fatalf("ERROR %v with targeting key %q", r.Err, key)
			}
		default:
			t.Fatalf("reason %v, want SPLIT, DEFAULT or ERROR", r.Reason)
		}
		plain := set.EvaluateAt("plain", ec, t0).Variant == "on"
		negated := set.EvaluateAt("negated", ec, t0).Variant == "on"
		if plain == negated {
			t.Fatalf("%v %q against %+v: plain matched %v, negated matched %v", cond.Op, value, attr, plain, negated)
		}
		if matched := r.Reason != flags.ReasonDefault; matched != plain {
			t.Fatalf("the split rule matched %v, the plain rule %v", matched, plain)
		}
	})
}

// FuzzBucket checks that buckets are in range and that a wider percentage
// keeps every key a narrower one held.
func FuzzBucket(f *testing.F) {
	f.Add("new-checkout", "user-1", 10.0, 20.0)
	f.Add("", "", 0.0, 100.0)
	f.Add("a-salt-longer-than-16", "a-key-of-exactly-24-byte", 33.3, 33.4)
	f.Fuzz(func(t *testing.T, salt, key string, p1, p2 float64) {
		b := flags.Bucket(salt, key)
		if b >= flags.Buckets {
			t.Fatalf("Bucket(%q, %q) = %d, want < %d", salt, key, b, flags.Buckets)
		}
		if salt == "" || key == "" || !(p1 >= 0 && p1 <= p2 && p2 <= 100) {
			return
		}
		mk := func(p float64) *flags.Set {
			s, err := flags.NewSet(flags.Flag{Key: "f", Salt: salt,
				Fallthrough: flags.Serve{Split: []flags.Weight{{Variant: "on", Percent: p}, {Variant: "off", Percent: 100 - p}}}})
			if err != nil {
				t.Skip(err) // a sum that misses 100 by rounding
			}
			return s
		}
		ec := flags.EvaluationContext{TargetingKey: key}
		if mk(p1).EvaluateAt("f", ec, t0).Variant == "on" && mk(p2).EvaluateAt("f", ec, t0).Variant != "on" {
			t.Fatalf("key %q is in at %v%% and out at %v%%", key, p1, p2)
		}
	})
}
