package flags

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/levee-go/levee/clock"
)

// ErrInvalid matches every [*DefinitionError].
var ErrInvalid = errors.New("flags: invalid definition")

// DefinitionError is a flag definition [NewSet] refused: it names the flag
// and the field, in the form "flags: flag "beta": rules[1].conditions[0].values[0]:
// not a number". It matches [ErrInvalid].
type DefinitionError struct {
	Flag    string // the flag's key (may be empty when the key is the problem)
	Field   string // the field path inside the flag, e.g. "rules[1].serve.split"
	Problem string // what is wrong
}

func (e *DefinitionError) Error() string {
	return fmt.Sprintf("flags: flag %q: %s: %s", e.Flag, e.Field, e.Problem)
}

// Is reports whether target is [ErrInvalid].
func (e *DefinitionError) Is(target error) bool { return target == ErrInvalid }

// Set is an immutable collection of compiled flags. Build one with
// [NewSet]; evaluate with [Set.EvaluateAt], or hold it in a [Store] that
// swaps sets at run time. A Set is safe for concurrent use.
type Set struct {
	byKey map[string]*compiled
	keys  []string // sorted
}

// NewSet checks and compiles flags. Every problem is reported, each as a
// [*DefinitionError], joined with [errors.Join]; on error the set is nil.
func NewSet(flags ...Flag) (*Set, error) {
	s := &Set{byKey: make(map[string]*compiled, len(flags))}
	var errs []error
	for i, f := range flags {
		c, err := compile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := s.byKey[f.Key]; dup {
			errs = append(errs, &DefinitionError{Flag: f.Key, Field: fmt.Sprintf("[%d].key", i), Problem: "duplicate key"})
			continue
		}
		s.byKey[f.Key] = c
		s.keys = append(s.keys, f.Key)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.Sort(s.keys)
	return s, nil
}

// Keys returns the keys of the set's flags, sorted.
func (s *Set) Keys() []string {
	if s == nil {
		return nil
	}
	return slices.Clone(s.keys)
}

// Flag returns the definition of the flag called key, as compiled (numbers
// in variant values are float64), and whether it exists. Its slices are
// copies; JSON-like variant values are shared and must not be modified.
func (s *Set) Flag(key string) (Flag, bool) {
	if s == nil {
		return Flag{}, false
	}
	c, ok := s.byKey[key]
	if !ok {
		return Flag{}, false
	}
	return cloneFlag(c.def), true
}

// EvaluateAt evaluates the flag called key for ec at instant now (which only
// progressive rollouts read). A missing flag resolves with [ReasonError] and
// [ErrFlagNotFound]. It costs no allocation.
func (s *Set) EvaluateAt(key string, ec EvaluationContext, now time.Time) Resolution {
	return s.evaluate(key, &ec, nil, now)
}

func (s *Set) evaluate(key string, ec *EvaluationContext, clk clock.Clock, now time.Time) Resolution {
	if s != nil {
		if c, ok := s.byKey[key]; ok {
			v, reason, rule, err := c.resolve(ec, clk, now)
			return Resolution{Flag: key, Variant: v.Name, Value: v.Value, Reason: reason, Rule: rule, Err: err}
		}
	}
	return Resolution{Flag: key, Reason: ReasonError, Rule: -1, Err: ErrFlagNotFound}
}

// compiled is a flag ready for evaluation: variants resolved to indexes,
// numbers and versions parsed, regular expressions compiled.
type compiled struct {
	key      string
	def      Flag // the normalised definition, to compare on replace
	variants []Variant
	dflt     int
	disabled bool
	rules    []crule
	fall     cserve
	seed     uint64
}

type crule struct {
	conds []ccond
	serve cserve
}

type serveKind uint8

const (
	serveNone serveKind = iota
	serveVariant
	serveSplit
	serveProgressive
)

type cserve struct {
	kind    serveKind
	variant int
	vars    []int    // split: variant indexes
	cum     []uint32 // split: cumulative bucket bounds
	prog    cprog
}

type cprog struct {
	from, to   int
	start, end time.Time
	lo, hi     uint32 // buckets that get To at start and at end
}

type ccond struct {
	attr   string
	op     Op
	negate bool
	texts  []string
	nums   []float64
	numOK  []bool
	vers   []version
	re     *regexp.Regexp
}

// compiler gathers the problems of one flag.
type compiler struct {
	f    Flag
	errs []error
	idx  map[string]int
}

func (k *compiler) fail(field, format string, args ...any) {
	k.errs = append(k.errs, &DefinitionError{Flag: k.f.Key, Field: field, Problem: fmt.Sprintf(format, args...)})
}

func compile(f Flag) (*compiled, error) {
	f = cloneFlag(f)
	k := &compiler{f: f, idx: map[string]int{}}
	if f.Key == "" {
		k.fail("key", "must not be empty")
	}
	if len(f.Variants) == 0 {
		f.Variants = []Variant{{Name: "on", Value: true}, {Name: "off", Value: false}}
		if f.Default == "" {
			f.Default = "off"
		}
	}
	for i := range f.Variants {
		v := &f.Variants[i]
		field := fmt.Sprintf("variants[%d]", i)
		switch _, dup := k.idx[v.Name]; {
		case v.Name == "":
			k.fail(field+".name", "must not be empty")
		case dup:
			k.fail(field+".name", "duplicate variant %q", v.Name)
		default:
			k.idx[v.Name] = i
		}
		val, err := normalizeValue(v.Value, 0)
		if err != nil {
			k.fail(field+".value", "%v", err)
		}
		v.Value = val
	}
	c := &compiled{key: f.Key, variants: f.Variants, disabled: f.Disabled, seed: saltState(cmp(f.Salt, f.Key))}
	c.dflt = k.variant("default", f.Default)
	for i, r := range f.Rules {
		field := fmt.Sprintf("rules[%d]", i)
		cr := crule{serve: k.serve(field+".serve", r.Serve)}
		if cr.serve.kind == serveNone {
			k.fail(field+".serve", "must not be empty")
		}
		for j, cond := range r.Conditions {
			cr.conds = append(cr.conds, k.condition(fmt.Sprintf("%s.conditions[%d]", field, j), cond))
		}
		c.rules = append(c.rules, cr)
	}
	c.fall = k.serve("fallthrough", f.Fallthrough)
	if len(k.errs) > 0 {
		return nil, errors.Join(k.errs...)
	}
	c.def = f
	return c, nil
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// variant returns the index of the variant called name, reporting a
// missing or unknown one at field.
func (k *compiler) variant(field, name string) int {
	if name == "" {
		k.fail(field, "must name a variant")
		return 0
	}
	i, ok := k.idx[name]
	if !ok {
		k.fail(field, "unknown variant %q", name)
	}
	return i
}

func (k *compiler) serve(field string, s Serve) cserve {
	set := 0
	if s.Variant != "" {
		set++
	}
	if len(s.Split) > 0 {
		set++
	}
	if s.Progressive != nil {
		set++
	}
	switch {
	case set == 0:
		return cserve{}
	case set > 1:
		k.fail(field, "set only one of variant, split and progressive")
		return cserve{}
	case s.Variant != "":
		return cserve{kind: serveVariant, variant: k.variant(field+".variant", s.Variant)}
	case s.Progressive != nil:
		return k.progressive(field+".progressive", s.Progressive)
	}
	cs := cserve{kind: serveSplit}
	var total, sum float64
	for i, w := range s.Split {
		f := fmt.Sprintf("%s.split[%d]", field, i)
		cs.vars = append(cs.vars, k.variant(f+".variant", w.Variant))
		if !(w.Percent >= 0 && w.Percent <= 100) {
			k.fail(f+".percent", "must be within 0–100, not %v", w.Percent)
			continue
		}
		total += w.Percent
		sum += w.Percent
		cs.cum = append(cs.cum, percentBuckets(sum))
	}
	if math.Abs(total-100) > 1e-6 {
		k.fail(field+".split", "percentages add up to %v, want 100", total)
	}
	return cs
}

func (k *compiler) progressive(field string, p *Progressive) cserve {
	cs := cserve{kind: serveProgressive}
	cs.prog.from = k.variant(field+".from", p.From)
	cs.prog.to = k.variant(field+".to", p.To)
	if p.Start.IsZero() || p.End.IsZero() || !p.End.After(p.Start) {
		k.fail(field+".end", "must be after start (both must be set)")
	}
	end := p.EndPercent
	if end == 0 {
		end = 100
	}
	for _, x := range []struct {
		name string
		v    float64
	}{{"startPercent", p.StartPercent}, {"endPercent", end}} {
		if !(x.v >= 0 && x.v <= 100) {
			k.fail(field+"."+x.name, "must be within 0–100, not %v", x.v)
		}
	}
	cs.prog.start, cs.prog.end = p.Start, p.End
	cs.prog.lo, cs.prog.hi = percentBuckets(p.StartPercent), percentBuckets(end)
	return cs
}

func (k *compiler) condition(field string, c Condition) ccond {
	cc := ccond{attr: c.Attribute, op: c.Op, negate: c.Negate, texts: c.Values}
	if c.Attribute == "" {
		k.fail(field+".attribute", "must not be empty")
	}
	switch {
	case c.Op.String() == "unknown":
		k.fail(field+".op", "unknown operator %d", c.Op)
		return cc
	case c.Op == OpIn && len(c.Values) == 0:
		k.fail(field+".values", "%s needs at least one value", c.Op)
		return cc
	case c.Op != OpIn && len(c.Values) != 1:
		k.fail(field+".values", "%s needs exactly one value, not %d", c.Op, len(c.Values))
		return cc
	}
	for i, s := range c.Values {
		vf := fmt.Sprintf("%s.values[%d]", field, i)
		switch c.Op {
		case OpEquals, OpIn:
			n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			cc.nums = append(cc.nums, n)
			cc.numOK = append(cc.numOK, err == nil)
		case OpLess, OpLessOrEqual, OpGreater, OpGreaterOrEqual:
			n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || math.IsNaN(n) {
				k.fail(vf, "%q is not a number", s)
			}
			cc.nums = append(cc.nums, n)
		case OpVersionEqual, OpVersionLess, OpVersionLessOrEqual, OpVersionGreater, OpVersionGreaterOrEqual:
			v, ok := parseVersion(s)
			if !ok {
				k.fail(vf, "%q is not a semantic version", s)
			}
			cc.vers = append(cc.vers, v)
		case OpRegex:
			re, err := regexp.Compile(s)
			if err != nil {
				k.fail(vf, "%v", err)
			}
			cc.re = re
		}
	}
	return cc
}

// normalizeValue checks that v is JSON-like and turns every number into a
// float64, copying containers so the set shares nothing with the caller.
func normalizeValue(v any, depth int) (any, error) {
	if depth > 64 {
		return nil, errors.New("nested too deep (over 64 levels)")
	}
	switch x := v.(type) {
	case nil, bool, string:
		return x, nil
	case float64:
		return x, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalizeValue(e, depth+1)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for key, e := range x {
			n, err := normalizeValue(e, depth+1)
			if err != nil {
				return nil, fmt.Errorf("[%q]: %w", key, err)
			}
			out[key] = n
		}
		return out, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(rv.Uint()), nil
	case reflect.Float32:
		return rv.Float(), nil
	}
	return nil, fmt.Errorf("%T is not a bool, string, number, nil, []any or map[string]any", v)
}

// cloneFlag copies the slices of f so a set never shares them with its
// caller. Variant values are copied by normalizeValue.
func cloneFlag(f Flag) Flag {
	f.Variants = slices.Clone(f.Variants)
	f.Rules = slices.Clone(f.Rules)
	for i := range f.Rules {
		r := &f.Rules[i]
		r.Conditions = slices.Clone(r.Conditions)
		for j := range r.Conditions {
			r.Conditions[j].Values = slices.Clone(r.Conditions[j].Values)
		}
		r.Serve = cloneServe(r.Serve)
	}
	f.Fallthrough = cloneServe(f.Fallthrough)
	return f
}

func cloneServe(s Serve) Serve {
	s.Split = slices.Clone(s.Split)
	if s.Progressive != nil {
		p := *s.Progressive
		s.Progressive = &p
	}
	return s
}
