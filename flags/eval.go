package flags

import (
	"errors"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/levee-go/levee/clock"
)

// EvaluationContext is what an evaluation knows about its subject: the
// targeting key that buckets it (a user or account id) and the attributes
// rules test. It is a plain struct, not a map, so building one and
// evaluating with it cost no allocation; attributes are few and found by a
// linear scan.
type EvaluationContext struct {
	// TargetingKey identifies the subject for percentage rollouts: the same
	// key always lands in the same bucket of a flag. Empty means none: a
	// split or progressive rollout then serves the default with
	// [ErrTargetingKeyMissing].
	TargetingKey string
	// Attributes are the subject's attributes; the first with a name wins.
	Attributes []Attribute
}

// Attribute is one named value of an [EvaluationContext]: a text or a
// number. Make one with [StringAttr], [NumberAttr] or [BoolAttr].
type Attribute struct {
	Name string
	// Text is the value of a text attribute.
	Text string
	// Number is the value of a numeric attribute, when IsNumber is set.
	Number   float64
	IsNumber bool
}

// StringAttr returns a text attribute.
func StringAttr(name, value string) Attribute { return Attribute{Name: name, Text: value} }

// NumberAttr returns a numeric attribute.
func NumberAttr(name string, value float64) Attribute {
	return Attribute{Name: name, Number: value, IsNumber: true}
}

// BoolAttr returns a text attribute holding "true" or "false", which an
// OpEquals condition with the value "true" or "false" tests.
func BoolAttr(name string, value bool) Attribute {
	return Attribute{Name: name, Text: strconv.FormatBool(value)}
}

// lookup returns the attribute called name; the targeting key answers to
// [TargetingKeyAttribute].
func (ec *EvaluationContext) lookup(name string) (Attribute, bool) {
	for _, a := range ec.Attributes {
		if a.Name == name {
			return a, true
		}
	}
	if name == TargetingKeyAttribute && ec.TargetingKey != "" {
		return Attribute{Name: name, Text: ec.TargetingKey}, true
	}
	return Attribute{}, false
}

// Reason says why an evaluation served its variant. The names are
// OpenFeature's resolution reasons, so a provider passes them through.
type Reason uint8

// The reasons.
const (
	// ReasonDefault: no rule matched and the flag has no fallthrough, so
	// the default variant served.
	ReasonDefault Reason = iota + 1
	// ReasonStatic: no rule matched and the fallthrough serves one variant
	// to everyone.
	ReasonStatic
	// ReasonTargetingMatch: the rule [Resolution.Rule] matched and served
	// its variant.
	ReasonTargetingMatch
	// ReasonSplit: the variant was chosen by the targeting key's bucket, in
	// a split or a progressive rollout, of the rule [Resolution.Rule]
	// (-1: of the fallthrough).
	ReasonSplit
	// ReasonDisabled: the flag is disabled (its kill switch is on), so the
	// default variant served.
	ReasonDisabled
	// ReasonError: evaluation failed ([Resolution.Err] says why) and the
	// default variant served, when the flag exists.
	ReasonError
)

// String returns OpenFeature's name of the reason: "DEFAULT", "STATIC",
// "TARGETING_MATCH", "SPLIT", "DISABLED" or "ERROR".
func (r Reason) String() string {
	switch r {
	case ReasonDefault:
		return "DEFAULT"
	case ReasonStatic:
		return "STATIC"
	case ReasonTargetingMatch:
		return "TARGETING_MATCH"
	case ReasonSplit:
		return "SPLIT"
	case ReasonDisabled:
		return "DISABLED"
	case ReasonError:
		return "ERROR"
	}
	return "UNKNOWN"
}

// Errors a [Resolution] carries with [ReasonError].
var (
	// ErrFlagNotFound: the set has no flag with the key; the resolution
	// has no variant and a nil value.
	ErrFlagNotFound = errors.New("flags: flag not found")
	// ErrTargetingKeyMissing: a split or progressive rollout served, but
	// the evaluation context has no targeting key to bucket.
	ErrTargetingKeyMissing = errors.New("flags: targeting key missing")
)

// Resolution is the result of one evaluation, like OpenFeature's resolution
// details.
type Resolution struct {
	// Flag is the key evaluated.
	Flag string
	// Variant is the name of the variant served; empty when the flag does
	// not exist.
	Variant string
	// Value is the variant's value (numbers as float64).
	Value any
	// Reason says why this variant served.
	Reason Reason
	// Rule is the index in [Flag.Rules] of the rule that served, or -1.
	Rule int
	// Err is set with ReasonError.
	Err error
}

// AsBool returns the value as a bool, and false when it is not one.
func (r Resolution) AsBool() (v, ok bool) { v, ok = r.Value.(bool); return v, ok }

// AsString returns the value as a string, and false when it is not one.
func (r Resolution) AsString() (string, bool) { v, ok := r.Value.(string); return v, ok }

// AsNumber returns the value as a float64, and false when it is not a
// number.
func (r Resolution) AsNumber() (float64, bool) { v, ok := r.Value.(float64); return v, ok }

// Buckets is the number of buckets of the bucketing hash: a percentage is
// resolved to a thousandth of a point.
const Buckets = 100_000

// Bucket returns the bucket, in [0, Buckets), of a targeting key for a
// flag whose salt is salt (its key unless [Flag.Salt] is set). It is a
// stable function of its arguments, so every instance and every restart
// puts a key in the same bucket, and any implementation can match it. With
// all arithmetic on unsigned 64-bit integers, wrapping:
//
//	K1 = 0x9E3779B97F4A7C15, K2 = 0xC2B2AE3D27D4EB4F
//	mix(h, s): h ^= len(s) × K1
//	           for each 8-byte chunk of s, the last one padded with zero
//	           bytes, read as a little-endian integer w:
//	               h = rotl(h ^ (w × K2), 31) × K1
//	fmix(h):   h ^= h >> 33; h ×= 0xFF51AFD7ED558CCD
//	           h ^= h >> 33; h ×= 0xC4CEB9FE1A85EC53; h ^= h >> 33
//	bucket = fmix(mix(mix(0, salt), key)) mod 100000
//
// fmix is MurmurHash3's finaliser. A percentage p (0–100) covers the
// buckets below round(p × 1000): a key inside 10% is inside 20% too. The
// hash reads eight bytes per step, so bucketing a typical key costs a few
// nanoseconds.
func Bucket(salt, key string) uint32 { return bucketFrom(saltState(salt), key) }

const (
	k1 = 0x9E3779B97F4A7C15
	k2 = 0xC2B2AE3D27D4EB4F
)

// saltState is mix(0, salt), computed once per flag.
func saltState(salt string) uint64 { return mix(0, salt) }

func mix(h uint64, s string) uint64 {
	h ^= uint64(len(s)) * k1
	for len(s) >= 8 {
		w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		h = bits.RotateLeft64(h^(w*k2), 31) * k1
		s = s[8:]
	}
	if len(s) > 0 {
		var w uint64
		for i := len(s) - 1; i >= 0; i-- {
			w = w<<8 | uint64(s[i])
		}
		h = bits.RotateLeft64(h^(w*k2), 31) * k1
	}
	return h
}

func bucketFrom(h uint64, key string) uint32 {
	h = mix(h, key)
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return uint32(h % Buckets)
}

// percentBuckets converts a percentage to a bucket count.
func percentBuckets(p float64) uint32 {
	b := p*1000 + 0.5
	switch {
	case b <= 0:
		return 0
	case b >= Buckets:
		return Buckets
	}
	return uint32(b)
}

// resolve evaluates c for ec. The time is read from clk (when not nil) or
// taken from at, and only when a progressive rollout needs it. It returns
// the parts of a [Resolution] in registers; the caller builds the struct
// once.
func (c *compiled) resolve(ec *EvaluationContext, clk clock.Clock, at time.Time) (v *Variant, reason Reason, rule int, err error) {
	if c.disabled {
		return &c.variants[c.dflt], ReasonDisabled, -1, nil
	}
	for i := range c.rules {
		r := &c.rules[i]
		if r.matches(ec) {
			return c.serve(&r.serve, i, ec, clk, at)
		}
	}
	if c.fall.kind == serveNone {
		return &c.variants[c.dflt], ReasonDefault, -1, nil
	}
	return c.serve(&c.fall, -1, ec, clk, at)
}

func (c *compiled) serve(s *cserve, rule int, ec *EvaluationContext, clk clock.Clock, at time.Time) (*Variant, Reason, int, error) {
	switch s.kind {
	case serveSplit:
		if ec.TargetingKey == "" {
			return &c.variants[c.dflt], ReasonError, -1, ErrTargetingKeyMissing
		}
		b := bucketFrom(c.seed, ec.TargetingKey)
		idx := s.vars[len(s.vars)-1]
		for j, upto := range s.cum {
			if b < upto {
				idx = s.vars[j]
				break
			}
		}
		return &c.variants[idx], ReasonSplit, rule, nil
	case serveProgressive:
		if ec.TargetingKey == "" {
			return &c.variants[c.dflt], ReasonError, -1, ErrTargetingKeyMissing
		}
		b := bucketFrom(c.seed, ec.TargetingKey)
		if clk != nil {
			at = clk.Now()
		}
		idx := s.prog.from
		if b < s.prog.threshold(at) {
			idx = s.prog.to
		}
		return &c.variants[idx], ReasonSplit, rule, nil
	}
	if rule < 0 {
		return &c.variants[s.variant], ReasonStatic, rule, nil
	}
	return &c.variants[s.variant], ReasonTargetingMatch, rule, nil
}

// threshold returns the number of buckets that get To at instant t.
func (p *cprog) threshold(t time.Time) uint32 {
	switch {
	case !t.After(p.start):
		return p.lo
	case !t.Before(p.end):
		return p.hi
	}
	frac := float64(t.Sub(p.start)) / float64(p.end.Sub(p.start))
	return uint32(float64(p.lo) + (float64(p.hi)-float64(p.lo))*frac)
}

func (r *crule) matches(ec *EvaluationContext) bool {
	for i := range r.conds {
		if !r.conds[i].matches(ec) {
			return false
		}
	}
	return true
}

func (c *ccond) matches(ec *EvaluationContext) bool {
	a, ok := ec.lookup(c.attr)
	if !ok {
		return false
	}
	return c.test(a) != c.negate
}

// test applies the comparison, without the negation.
func (c *ccond) test(a Attribute) bool {
	switch c.op {
	case OpEquals, OpIn:
		if a.IsNumber {
			for i, n := range c.nums {
				if c.numOK[i] && n == a.Number {
					return true
				}
			}
			return false
		}
		for _, s := range c.texts {
			if a.Text == s {
				return true
			}
		}
		return false
	case OpLess, OpLessOrEqual, OpGreater, OpGreaterOrEqual:
		n := a.Number
		if !a.IsNumber {
			var err error
			if n, err = strconv.ParseFloat(strings.TrimSpace(a.Text), 64); err != nil {
				return false
			}
		}
		return compareOK(c.op, cmpFloat(n, c.nums[0]))
	case OpVersionEqual, OpVersionLess, OpVersionLessOrEqual, OpVersionGreater, OpVersionGreaterOrEqual:
		if a.IsNumber {
			return false
		}
		v, ok := parseVersion(a.Text)
		if !ok {
			return false
		}
		return compareOK(c.op, compareVersions(v, c.vers[0]))
	}
	text := a.Text
	if a.IsNumber {
		text = strconv.FormatFloat(a.Number, 'g', -1, 64)
	}
	switch c.op {
	case OpPrefix:
		return strings.HasPrefix(text, c.texts[0])
	case OpSuffix:
		return strings.HasSuffix(text, c.texts[0])
	case OpContains:
		return strings.Contains(text, c.texts[0])
	case OpRegex:
		return c.re.MatchString(text)
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	}
	return 2 // NaN: no ordered comparison holds
}

// compareOK reports whether a three-way comparison result satisfies op.
func compareOK(op Op, cmp int) bool {
	switch op {
	case OpLess, OpVersionLess:
		return cmp == -1
	case OpLessOrEqual, OpVersionLessOrEqual:
		return cmp == -1 || cmp == 0
	case OpGreater, OpVersionGreater:
		return cmp == 1
	case OpGreaterOrEqual, OpVersionGreaterOrEqual:
		return cmp == 1 || cmp == 0
	case OpVersionEqual:
		return cmp == 0
	}
	return false
}
