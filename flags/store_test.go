package flags_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/flags"
)

type recorder struct {
	mu  sync.Mutex
	evs []levee.Event
}

func (r *recorder) listen(e levee.Event) { r.mu.Lock(); r.evs = append(r.evs, e); r.mu.Unlock() }

// take returns the events recorded since the last take, as
// "name:reason:from>to" strings.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.evs {
		out = append(out, e.Name+":"+e.Reason+":"+e.From+">"+e.To)
	}
	r.evs = nil
	return out
}

func TestStoreEvents(t *testing.T) {
	clk := clocktest.New(t0)
	st := flags.New(flags.Config{Clock: clk})
	var rec recorder
	st.OnEvent(rec.listen)
	check := func(step string, want ...string) {
		t.Helper()
		if got := rec.take(); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: events %q, want %q", step, got, want)
		}
	}
	if err := st.Update(flags.Flag{Key: "a"}, flags.Flag{Key: "b"}); err != nil {
		t.Fatal(err)
	}
	check("first set", "a:flag_added:absent>enabled", "b:flag_added:absent>enabled")

	if err := st.Update(flags.Flag{Key: "a"}, flags.Flag{Key: "b"}); err != nil {
		t.Fatal(err)
	}
	check("identical set")

	if err := st.Update(flags.Flag{Key: "a", Fallthrough: flags.Serve{Variant: "on"}}, flags.Flag{Key: "c"}); err != nil {
		t.Fatal(err)
	}
	check("second set", "a:flag_modified:enabled>enabled", "b:flag_removed:enabled>absent", "c:flag_added:absent>enabled")

	if err := st.SetDisabled("a", true); err != nil {
		t.Fatal(err)
	}
	check("kill switch", "a:flag_disabled:enabled>disabled")
	if r := st.Evaluate("a", flags.EvaluationContext{}); r.Reason != flags.ReasonDisabled || r.Variant != "off" {
		t.Errorf("Evaluate(a) after SetDisabled = %+v, want off by DISABLED", r)
	}
	if err := st.SetDisabled("a", true); err != nil {
		t.Fatal(err)
	}
	check("kill switch again")
	if err := st.SetDisabled("a", false); err != nil {
		t.Fatal(err)
	}
	check("kill switch off", "a:flag_enabled:disabled>enabled")
	if err := st.SetDisabled("zz", true); !errors.Is(err, flags.ErrFlagNotFound) {
		t.Errorf("SetDisabled(zz) = %v, want ErrFlagNotFound", err)
	}

	if err := st.Put(flags.Flag{Key: "d", Disabled: true}); err != nil {
		t.Fatal(err)
	}
	check("put", "d:flag_added:absent>disabled")
	if !st.Delete("c") || st.Delete("c") {
		t.Error("Delete(c) twice, want true then false")
	}
	check("delete", "c:flag_removed:enabled>absent")

	if err := st.Update(flags.Flag{Key: "a", Default: "nope"}); err == nil {
		t.Fatal("Update with a bad flag succeeded")
	}
	check("refused update")
	if got := st.Set().Keys(); strings.Join(got, ",") != "a,d" {
		t.Errorf("keys after a refused update = %v, want a,d", got)
	}
	st.Replace(nil)
	check("empty", "a:flag_removed:enabled>absent", "d:flag_removed:disabled>absent")

	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, e := range rec.evs {
		if e.Kind != levee.EventStateChange || e.Policy != "flags" || !e.Time.Equal(t0) {
			t.Errorf("event %+v, want a state change of policy flags at %v", e, t0)
		}
	}
}

// TestStoreListenerMayWrite checks that a listener that changes the store
// does not deadlock, and that events still arrive in order.
func TestStoreListenerMayWrite(t *testing.T) {
	st := flags.New(flags.Config{})
	var rec recorder
	st.OnEvent(func(e levee.Event) {
		rec.listen(e)
		if e.Name == "a" && e.Reason == flags.ChangeAdded {
			if err := st.SetDisabled("a", true); err != nil {
				t.Error(err)
			}
		}
	})
	if err := st.Put(flags.Flag{Key: "a"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rec.take(), " "); got != "a:flag_added:absent>enabled a:flag_disabled:enabled>disabled" {
		t.Errorf("events %q, want added then disabled", got)
	}
}

func TestZeroStore(t *testing.T) {
	var st flags.Store
	if r := st.Evaluate("x", flags.EvaluationContext{}); !errors.Is(r.Err, flags.ErrFlagNotFound) {
		t.Errorf("zero Store Evaluate = %+v, want ErrFlagNotFound", r)
	}
	if !st.Bool("x", flags.EvaluationContext{}, true) {
		t.Error("zero Store Bool(fallback true) = false")
	}
	if err := st.Put(flags.Flag{Key: "x", Fallthrough: flags.Serve{Variant: "on"}}); err != nil {
		t.Fatal(err)
	}
	if !st.Bool("x", flags.EvaluationContext{}, false) {
		t.Error("Bool(x) = false after Put serving on")
	}
}

// TestStoreProgressiveUsesClock checks that the store reads its clock for a
// progressive rollout.
func TestStoreProgressiveUsesClock(t *testing.T) {
	clk := clocktest.New(t0)
	st := flags.New(flags.Config{Clock: clk})
	if err := st.Put(flags.Flag{Key: "p", Fallthrough: flags.Serve{Progressive: &flags.Progressive{
		From: "off", To: "on", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	ec := flags.EvaluationContext{TargetingKey: "someone"}
	if st.Bool("p", ec, true) {
		t.Error("before the start: on, want off")
	}
	clk.Advance(2 * time.Hour)
	if !st.Bool("p", ec, false) {
		t.Error("at the end: off, want on")
	}
}

// TestStoreSwapUnderLoad evaluates while sets are swapped: every
// evaluation sees one whole set (run with -race).
func TestStoreSwapUnderLoad(t *testing.T) {
	st := flags.New(flags.Config{})
	mk := func(v string) *flags.Set {
		return mustSet(t, flags.Flag{Key: "f", Variants: []flags.Variant{{Name: "x", Value: "x"}, {Name: "y", Value: "y"}},
			Default: v, Fallthrough: flags.Serve{Variant: v}})
	}
	sx, sy := mk("x"), mk("y")
	st.Replace(sx)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := st.Evaluate("f", flags.EvaluationContext{})
				if r.Variant != r.Value {
					t.Errorf("resolution mixes two sets: %+v", r)
					return
				}
			}
		})
	}
	for i := range 1000 {
		if i%2 == 0 {
			st.Replace(sy)
		} else {
			st.Replace(sx)
		}
	}
	close(stop)
	wg.Wait()
}

func TestDefinitionErrors(t *testing.T) {
	vs := []flags.Variant{{Name: "a", Value: "a"}, {Name: "b", Value: 2}}
	cond := func(op flags.Op, values ...string) []flags.Rule {
		return []flags.Rule{{Conditions: []flags.Condition{{Attribute: "x", Op: op, Values: values}}, Serve: flags.Serve{Variant: "on"}}}
	}
	tests := []struct {
		name  string
		flags []flags.Flag
		field string // the field of the first error
	}{
		{"empty key", []flags.Flag{{}}, "key"},
		{"duplicate key", []flags.Flag{{Key: "f"}, {Key: "f"}}, "[1].key"},
		{"no default", []flags.Flag{{Key: "f", Variants: vs}}, "default"},
		{"unknown default", []flags.Flag{{Key: "f", Variants: vs, Default: "c"}}, "default"},
		{"empty variant name", []flags.Flag{{Key: "f", Variants: []flags.Variant{{Value: 1}}, Default: "x"}}, "variants[0].name"},
		{"duplicate variant", []flags.Flag{{Key: "f", Variants: []flags.Variant{{Name: "a"}, {Name: "a"}}, Default: "a"}}, "variants[1].name"},
		{"bad value", []flags.Flag{{Key: "f", Variants: []flags.Variant{{Name: "a", Value: struct{}{}}}, Default: "a"}}, "variants[0].value"},
		{"bad nested value", []flags.Flag{{Key: "f", Variants: []flags.Variant{{Name: "a", Value: map[string]any{"k": []any{make(chan int)}}}}, Default: "a"}}, "variants[0].value"},
		{"rule without serve", []flags.Flag{{Key: "f", Rules: []flags.Rule{{}}}}, "rules[0].serve"},
		{"two serves", []flags.Flag{{Key: "f", Fallthrough: flags.Serve{Variant: "on", Split: []flags.Weight{{Variant: "on", Percent: 100}}}}}, "fallthrough"},
		{"unknown serve variant", []flags.Flag{{Key: "f", Fallthrough: flags.Serve{Variant: "maybe"}}}, "fallthrough.variant"},
		{"split not 100", []flags.Flag{{Key: "f", Fallthrough: flags.Serve{Split: []flags.Weight{{Variant: "on", Percent: 10}, {Variant: "off", Percent: 80}}}}}, "fallthrough.split"},
		{"split negative", []flags.Flag{{Key: "f", Fallthrough: flags.Serve{Split: []flags.Weight{{Variant: "on", Percent: -10}, {Variant: "off", Percent: 110}}}}}, "fallthrough.split[0].percent"},
		{"progressive backwards", []flags.Flag{{Key: "f", Fallthrough: flags.Serve{Progressive: &flags.Progressive{From: "off", To: "on", Start: t0, End: t0}}}}, "fallthrough.progressive.end"},
		{"progressive unknown", []flags.Flag{{Key: "f", Fallthrough: flags.Serve{Progressive: &flags.Progressive{From: "off", To: "no", Start: t0, End: t0.Add(1)}}}}, "fallthrough.progressive.to"},
		{"progressive percent", []flags.Flag{{Key: "f", Fallthrough: flags.Serve{Progressive: &flags.Progressive{From: "off", To: "on", Start: t0, End: t0.Add(1), StartPercent: 200}}}}, "fallthrough.progressive.startPercent"},
		{"no attribute", []flags.Flag{{Key: "f", Rules: []flags.Rule{{Conditions: []flags.Condition{{Op: flags.OpEquals, Values: []string{"1"}}}, Serve: flags.Serve{Variant: "on"}}}}}, "rules[0].conditions[0].attribute"},
		{"unknown op", []flags.Flag{{Key: "f", Rules: cond(99, "1")}}, "rules[0].conditions[0].op"},
		{"zero op", []flags.Flag{{Key: "f", Rules: cond(0, "1")}}, "rules[0].conditions[0].op"},
		{"in without values", []flags.Flag{{Key: "f", Rules: cond(flags.OpIn)}}, "rules[0].conditions[0].values"},
		{"two values", []flags.Flag{{Key: "f", Rules: cond(flags.OpEquals, "a", "b")}}, "rules[0].conditions[0].values"},
		{"not a number", []flags.Flag{{Key: "f", Rules: cond(flags.OpLess, "ten")}}, "rules[0].conditions[0].values[0]"},
		{"not a version", []flags.Flag{{Key: "f", Rules: cond(flags.OpVersionLess, "1.x")}}, "rules[0].conditions[0].values[0]"},
		{"bad regex", []flags.Flag{{Key: "f", Rules: cond(flags.OpRegex, "(")}}, "rules[0].conditions[0].values[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := flags.NewSet(tt.flags...)
			if err == nil || set != nil {
				t.Fatalf("NewSet = %v, %v; want nil and an error", set, err)
			}
			var de *flags.DefinitionError
			if !errors.As(err, &de) || !errors.Is(err, flags.ErrInvalid) {
				t.Fatalf("NewSet error %v is not a *DefinitionError matching ErrInvalid", err)
			}
			if de.Field != tt.field || de.Flag != tt.flags[len(tt.flags)-1].Key {
				t.Errorf("NewSet error names flag %q field %q (%v), want flag %q field %q", de.Flag, de.Field, err, tt.flags[0].Key, tt.field)
			}
			if !strings.HasPrefix(err.Error(), "flags: flag ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			st := flags.New(flags.Config{})
			if err := st.Put(tt.flags[len(tt.flags)-1]); err == nil && tt.name != "duplicate key" {
				t.Errorf("Put accepted the bad flag")
			}
		})
	}
}

// TestDefinitionIsCopied checks that changing a definition after building
// a set changes nothing in it.
func TestDefinitionIsCopied(t *testing.T) {
	f := flags.Flag{Key: "f", Rules: []flags.Rule{{
		Conditions: []flags.Condition{{Attribute: "c", Op: flags.OpEquals, Values: []string{"FR"}}},
		Serve:      flags.Serve{Variant: "on"},
	}}}
	s := mustSet(t, f)
	f.Rules[0].Conditions[0].Values[0] = "DE"
	if r := s.EvaluateAt("f", attrs(flags.StringAttr("c", "FR")), t0); r.Variant != "on" {
		t.Errorf("after editing the caller's definition: %+v, want on", r)
	}
	got, ok := s.Flag("f")
	if !ok || got.Rules[0].Conditions[0].Values[0] != "FR" {
		t.Errorf("Flag(f) = %+v, %v; want the definition as built", got, ok)
	}
}
