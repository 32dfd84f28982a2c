package flags

import "time"

// Flag is the definition of one runtime switch. It is plain data, so it can
// be decoded from any format; [NewSet] checks it and compiles it for
// evaluation.
//
// Evaluation, in order: a disabled flag serves [Flag.Default] (the kill
// switch); otherwise the first rule whose conditions all match serves its
// [Serve]; otherwise [Flag.Fallthrough] serves; when that is empty too,
// [Flag.Default] serves.
type Flag struct {
	// Key names the flag; it must not be empty. It is also the salt of the
	// bucketing hash unless Salt is set.
	Key string
	// Variants are the values the flag can serve. Empty means a boolean
	// flag with the two variants "on" (true) and "off" (false).
	Variants []Variant
	// Default names the variant served when the flag is disabled, when no
	// rule matches and Fallthrough is empty, and when evaluation fails (a
	// split without a targeting key). Empty means "off" for a boolean flag;
	// a flag with declared Variants must name one.
	Default string
	// Disabled is the kill switch: a disabled flag serves Default to
	// everyone, whatever its rules say.
	Disabled bool
	// Rules are tried in order; the first whose conditions all match
	// serves its Serve.
	Rules []Rule
	// Fallthrough serves when no rule matches. Zero means Default.
	Fallthrough Serve
	// Salt replaces Key in the bucketing hash, so a flag can be renamed
	// without moving anyone between buckets, or two flags can share their
	// buckets. Empty means Key.
	Salt string
}

// Variant is one named value a flag can serve.
type Variant struct {
	// Name identifies the variant in rules and results; it must not be
	// empty and must be unique within the flag.
	Name string
	// Value is what the variant serves: a bool, a string, a number (any Go
	// integer or float type; it is served as a float64), nil, or JSON-like
	// data made of those in []any and map[string]any.
	Value any
}

// Rule serves a variant, a split or a progressive rollout to the
// evaluations whose attributes match all its conditions.
type Rule struct {
	// Name is for people and logs; it may be empty.
	Name string
	// Conditions must all match (logical and). No conditions match every
	// evaluation.
	Conditions []Condition
	// Serve is what a match serves; it must not be empty.
	Serve Serve
}

// Serve says what a rule (or the fallthrough) serves. Exactly one of its
// fields is set; the zero Serve is empty.
type Serve struct {
	// Variant names one variant served to every match.
	Variant string
	// Split shares the matches between variants by percentage of
	// targeting keys; the percentages must add up to 100.
	Split []Weight
	// Progressive moves matches from one variant to another between two
	// instants.
	Progressive *Progressive
}

// Weight is one variant's share of a [Serve.Split].
type Weight struct {
	// Variant names the variant.
	Variant string
	// Percent is its share of targeting keys, 0–100, to a thousandth of a
	// point.
	Percent float64
}

// Progressive is a rollout that grows on its own: before Start, StartPercent
// of targeting keys get To and the rest From; between Start and End the share
// grows linearly to EndPercent; after End it stays at EndPercent. Bucketing
// is sticky, so a key that has moved to To stays there while the share grows.
type Progressive struct {
	// From and To name the old and the new variant.
	From, To string
	// Start and End bound the rollout; End must be after Start.
	Start, End time.Time
	// StartPercent and EndPercent are To's share at Start and at End,
	// 0–100. Zero EndPercent means 100.
	StartPercent, EndPercent float64
}

// Condition tests one attribute of an evaluation.
type Condition struct {
	// Attribute names the attribute; [TargetingKeyAttribute] names the
	// targeting key. An evaluation without the attribute does not match
	// (even with Negate).
	Attribute string
	// Op is the comparison.
	Op Op
	// Values are the operands, as text: one for every operator but OpIn,
	// which takes one or more. Numbers and versions are parsed when the set
	// is built.
	Values []string
	// Negate inverts the result of the comparison.
	Negate bool
}

// TargetingKeyAttribute is the attribute name under which conditions see
// [EvaluationContext.TargetingKey].
const TargetingKeyAttribute = "targetingKey"

// Op is a condition's comparison.
type Op uint8

// The comparisons. String ones compare the attribute's text; numeric ones
// its number (a text attribute is parsed; one that does not parse does not
// match); version ones parse semantic versions (an optional "v", then
// MAJOR.MINOR.PATCH, an optional -prerelease and +build) and compare them by
// semver precedence.
const (
	OpEquals                Op = iota + 1 // the text equals Values[0]
	OpIn                                  // the text equals one of Values
	OpPrefix                              // the text starts with Values[0]
	OpSuffix                              // the text ends with Values[0]
	OpContains                            // the text contains Values[0]
	OpRegex                               // the text matches the regular expression Values[0] (RE2 syntax)
	OpLess                                // number < Values[0]
	OpLessOrEqual                         // number ≤ Values[0]
	OpGreater                             // number > Values[0]
	OpGreaterOrEqual                      // number ≥ Values[0]
	OpVersionEqual                        // version = Values[0]
	OpVersionLess                         // version < Values[0]
	OpVersionLessOrEqual                  // version ≤ Values[0]
	OpVersionGreater                      // version > Values[0]
	OpVersionGreaterOrEqual               // version ≥ Values[0]
)

var opNames = [...]string{
	OpEquals: "equals", OpIn: "in", OpPrefix: "prefix", OpSuffix: "suffix", OpContains: "contains",
	OpRegex: "regex", OpLess: "lt", OpLessOrEqual: "le", OpGreater: "gt", OpGreaterOrEqual: "ge",
	OpVersionEqual: "semver_eq", OpVersionLess: "semver_lt", OpVersionLessOrEqual: "semver_le",
	OpVersionGreater: "semver_gt", OpVersionGreaterOrEqual: "semver_ge",
}

// String returns the operator's name as configuration files spell it
// ("equals", "in", "lt", "semver_ge", …).
func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return "unknown"
}

// ParseOp returns the operator [Op.String] names, and false for any other
// name.
func ParseOp(name string) (Op, bool) {
	for i, n := range opNames {
		if n != "" && n == name {
			return Op(i), true
		}
	}
	return 0, false
}
