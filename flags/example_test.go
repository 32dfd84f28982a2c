package flags_test

import (
	"fmt"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/flags"
)

func Example() {
	st := flags.New(flags.Config{})
	st.OnEvent(func(e levee.Event) { fmt.Println("event:", e.Name, e.Reason, e.From, "->", e.To) })

	err := st.Update(flags.Flag{
		Key: "new-checkout",
		Rules: []flags.Rule{
			// Staff always get it.
			{Conditions: []flags.Condition{{Attribute: "email", Op: flags.OpSuffix, Values: []string{"@example.com"}}},
				Serve: flags.Serve{Variant: "on"}},
			// Old apps never do.
			{Conditions: []flags.Condition{{Attribute: "app", Op: flags.OpVersionLess, Values: []string{"2.3.0"}}},
				Serve: flags.Serve{Variant: "off"}},
		},
		// Everyone else: 10% of users, always the same ones.
		Fallthrough: flags.Serve{Split: []flags.Weight{{Variant: "on", Percent: 10}, {Variant: "off", Percent: 90}}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	staff := flags.EvaluationContext{TargetingKey: "u-1", Attributes: []flags.Attribute{
		flags.StringAttr("email", "ann@example.com"), flags.StringAttr("app", "2.4.0")}}
	oldApp := flags.EvaluationContext{TargetingKey: "u-2", Attributes: []flags.Attribute{
		flags.StringAttr("app", "2.2.9")}}
	for _, ec := range []flags.EvaluationContext{staff, oldApp} {
		r := st.Evaluate("new-checkout", ec)
		fmt.Println(ec.TargetingKey, r.Variant, r.Reason, r.Rule)
	}

	on := 0
	for i := range 10_000 {
		if st.Bool("new-checkout", flags.EvaluationContext{TargetingKey: fmt.Sprint("user-", i)}, false) {
			on++
		}
	}
	fmt.Printf("split: %.0f%%\n", float64(on)/100)

	// The kill switch.
	_ = st.SetDisabled("new-checkout", true)
	r := st.Evaluate("new-checkout", staff)
	fmt.Println(r.Variant, r.Reason)

	// A bad definition is refused with the flag and the field named.
	fmt.Println(st.Put(flags.Flag{Key: "beta", Rules: []flags.Rule{{
		Conditions: []flags.Condition{{Attribute: "age", Op: flags.OpGreater, Values: []string{"ten"}}},
		Serve:      flags.Serve{Variant: "on"}}}}))
	// Output:
	// event: new-checkout flag_added absent -> enabled
	// u-1 on TARGETING_MATCH 0
	// u-2 off TARGETING_MATCH 1
	// split: 10%
	// event: new-checkout flag_disabled enabled -> disabled
	// off DISABLED
	// flags: flag "beta": rules[0].conditions[0].values[0]: "ten" is not a number
}

// Bucket is specified so that another implementation (a proxy in another
// language, a data pipeline) puts every user in the same bucket.
func ExampleBucket() {
	fmt.Println(flags.Bucket("new-checkout", "user-1"))
	// Output: 36446
}
