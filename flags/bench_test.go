package flags_test

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/levee-go/levee/flags"
)

// percentStore holds a 10% rollout of "new-checkout" among a few flags.
func percentStore(t testing.TB) *flags.Store {
	st := flags.New(flags.Config{})
	fs := []flags.Flag{pct(10)}
	fs[0].Key = "new-checkout"
	for i := range 20 {
		fs = append(fs, flags.Flag{Key: "other-" + strconv.Itoa(i)})
	}
	if err := st.Update(fs...); err != nil {
		t.Fatal(err)
	}
	return st
}

var ruleFlag = flags.Flag{
	Key:      "pricing",
	Variants: []flags.Variant{{Name: "old", Value: "old"}, {Name: "new", Value: "new"}},
	Default:  "old",
	Rules: []flags.Rule{
		{Conditions: []flags.Condition{{Attribute: "country", Op: flags.OpIn, Values: []string{"FR", "DE"}}}, Serve: flags.Serve{Variant: "old"}},
		{Conditions: []flags.Condition{{Attribute: "app", Op: flags.OpVersionGreaterOrEqual, Values: []string{"2.3.0"}}},
			Serve: flags.Serve{Split: []flags.Weight{{Variant: "new", Percent: 25}, {Variant: "old", Percent: 75}}}},
	},
}

var ruleContext = flags.EvaluationContext{TargetingKey: "user-1234567", Attributes: []flags.Attribute{
	flags.StringAttr("country", "US"), flags.StringAttr("app", "2.4.1"), flags.NumberAttr("age", 30)}}

// TestEvaluateAllocs pins evaluation at zero allocations.
func TestEvaluateAllocs(t *testing.T) {
	st := percentStore(t)
	ec := flags.EvaluationContext{TargetingKey: "user-1234567"}
	if n := testing.AllocsPerRun(100, func() { st.Evaluate("new-checkout", ec) }); n != 0 {
		t.Errorf("Evaluate(percentage flag) allocates %v times, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { st.Bool("new-checkout", ec, false) }); n != 0 {
		t.Errorf("Bool(percentage flag) allocates %v times, want 0", n)
	}
	if err := st.Put(ruleFlag); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { st.Evaluate("pricing", ruleContext) }); n != 0 {
		t.Errorf("Evaluate(rules and split) allocates %v times, want 0", n)
	}
	pre := flags.EvaluationContext{TargetingKey: "u", Attributes: []flags.Attribute{flags.StringAttr("app", "2.4.1-rc.1+b7")}}
	if n := testing.AllocsPerRun(100, func() { st.Evaluate("pricing", pre) }); n != 0 {
		t.Errorf("Evaluate(a prerelease version) allocates %v times, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { st.Evaluate("absent", ec) }); n != 0 {
		t.Errorf("Evaluate(absent) allocates %v times, want 0", n)
	}
}

// BenchmarkEvaluatePercent is the figure: a percentage flag with a
// targeting key, through the Store.
func BenchmarkEvaluatePercent(b *testing.B) {
	st := percentStore(b)
	ec := flags.EvaluationContext{TargetingKey: "user-1234567"}
	b.ReportAllocs()
	for b.Loop() {
		st.Evaluate("new-checkout", ec)
	}
}

func BenchmarkEvaluatePercentParallel(b *testing.B) {
	st := percentStore(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ec := flags.EvaluationContext{TargetingKey: "user-1234567"}
		for pb.Next() {
			st.Evaluate("new-checkout", ec)
		}
	})
}

// BenchmarkEvaluateRules evaluates two rules (a miss on "in", a semver
// match) and then a split.
func BenchmarkEvaluateRules(b *testing.B) {
	st := percentStore(b)
	if err := st.Put(ruleFlag); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		st.Evaluate("pricing", ruleContext)
	}
}

// BenchmarkBucket is the bucketing hash alone.
func BenchmarkBucket(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		flags.Bucket("new-checkout", "user-1234567")
	}
}

// BenchmarkBaselineLookup is the floor any keyed flag store pays: an atomic
// load and a map lookup by the flag's key. Compare EvaluatePercent with it
// in one run; on a loaded machine the ratio means more than the figures.
func BenchmarkBaselineLookup(b *testing.B) {
	m := map[string]*int{"new-checkout": new(int)}
	for i := range 20 {
		m["other-"+strconv.Itoa(i)] = new(int)
	}
	var p atomic.Pointer[map[string]*int]
	p.Store(&m)
	var sink *int
	for b.Loop() {
		sink = (*p.Load())["new-checkout"]
	}
	_ = sink
}
