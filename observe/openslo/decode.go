package openslo

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/levee-go/levee/slo"
)

// APIVersion is the only OpenSLO version [Decode] reads and [Encode] writes.
const APIVersion = "openslo/v1"

// maxAliasHops bounds how far a chain of YAML aliases is followed.
const maxAliasHops = 64

// Decode reads a YAML stream of OpenSLO v1 objects, in one or more documents
// (each a single object or a list of objects), and returns one [slo.Config]
// per objective of each SLO, in the order they appear. Objects of other
// kinds are skipped, except that SLI objects are looked up by name when an
// SLO refers to one with indicatorRef. Only Name, Objective, Window and
// Latency are set; the other fields keep their zero value, which [slo.New]
// reads as its defaults.
//
// An error locates the first field it cannot map, as an [*Error] that
// matches [ErrInvalid] or [ErrUnsupported].
func Decode(r io.Reader) ([]slo.Config, error) {
	objs, err := readObjects(r)
	if err != nil {
		return nil, err
	}
	slis := map[string]node{}
	for _, o := range objs {
		if o.kind() != "SLI" {
			continue
		}
		name, ok := o.name()
		if !ok {
			continue
		}
		if first, dup := slis[name]; dup {
			return nil, &Error{Line: o.nameLine(), Path: o.join("metadata.name"), Err: ErrInvalid,
				Msg: fmt.Sprintf("SLI name %q is already used at line %d", name, first.nameLine())}
		}
		slis[name] = o
	}
	var cfgs []slo.Config
	lines := map[string]int{} // config name → line of its SLO's metadata.name
	for _, o := range objs {
		if o.kind() != "SLO" {
			continue
		}
		got, line, err := readSLO(o, slis)
		if err != nil {
			return nil, err
		}
		for _, c := range got {
			if first, dup := lines[c.Name]; dup {
				return nil, &Error{Line: line, Path: o.join("metadata.name"), Err: ErrInvalid,
					Msg: fmt.Sprintf("SLO name %q is already used at line %d", c.Name, first)}
			}
			lines[c.Name] = line
		}
		cfgs = append(cfgs, got...)
	}
	return cfgs, nil
}

// readObjects splits the stream into its top-level objects.
func readObjects(r io.Reader) ([]node, error) {
	dec := yaml.NewDecoder(r)
	var objs []node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, &Error{Msg: err.Error(), Err: ErrInvalid}
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
			continue
		}
		root := node{n: deref(doc.Content[0])}
		switch {
		case root.n == nil:
			return nil, root.errorf(ErrInvalid, "alias chain too long")
		case root.isNull():
			continue
		case root.n.Kind == yaml.MappingNode:
			objs = append(objs, root)
		case root.n.Kind == yaml.SequenceNode:
			for i := range root.n.Content {
				item := root.index(i)
				if item.n == nil || item.n.Kind != yaml.MappingNode {
					return nil, item.errorf(ErrInvalid, "want an OpenSLO object (a mapping)")
				}
				objs = append(objs, item)
			}
		default:
			return nil, root.errorf(ErrInvalid, "want an OpenSLO object or a list of them")
		}
	}
}

// readSLO maps one SLO object. line is that of its metadata.name.
func readSLO(o node, slis map[string]node) (cfgs []slo.Config, line int, err error) {
	if err := checkVersion(o); err != nil {
		return nil, 0, err
	}
	meta, err := o.mapping("metadata")
	if err != nil {
		return nil, 0, err
	}
	nameNode, err := meta.scalar("name")
	if err != nil {
		return nil, 0, err
	}
	name := nameNode.n.Value
	if name == "" {
		return nil, 0, nameNode.errorf(ErrInvalid, "empty name")
	}
	spec, err := o.mapping("spec")
	if err != nil {
		return nil, 0, err
	}
	if bm, ok := spec.get("budgetingMethod"); ok {
		if err := bm.wantScalar(); err != nil {
			return nil, 0, err
		}
		if bm.n.Value != "Occurrences" {
			return nil, 0, bm.errorf(ErrUnsupported, "%s, only Occurrences is supported", bm.n.Value)
		}
	}
	window, err := readWindow(spec)
	if err != nil {
		return nil, 0, err
	}
	specInd, hasSpecInd, err := readIndicator(spec, slis)
	if err != nil {
		return nil, 0, err
	}
	objectives, ok := spec.get("objectives")
	if !ok {
		return nil, 0, spec.missing("objectives")
	}
	if objectives.n.Kind != yaml.SequenceNode || len(objectives.n.Content) == 0 {
		return nil, 0, objectives.errorf(ErrInvalid, "want a list of one or more objectives")
	}
	for i := range objectives.n.Content {
		obj := objectives.index(i)
		if obj.n == nil || obj.n.Kind != yaml.MappingNode {
			return nil, 0, obj.errorf(ErrInvalid, "want an objective (a mapping)")
		}
		ind, hasInd, err := readIndicator(obj, slis)
		if err != nil {
			return nil, 0, err
		}
		if !hasInd {
			if !hasSpecInd {
				return nil, 0, obj.errorf(ErrInvalid, "no indicator: set spec.indicator or spec.indicatorRef, or one on the objective")
			}
			ind = specInd
		}
		cfg := slo.Config{Name: name, Window: window}
		if cfg.Objective, err = readTarget(obj); err != nil {
			return nil, 0, err
		}
		if ind == latencySLI {
			if cfg.Latency, err = readThreshold(obj); err != nil {
				return nil, 0, err
			}
		}
		if len(objectives.n.Content) > 1 {
			cfg.Name = name + "-" + objectiveSuffix(obj, i)
		}
		cfgs = append(cfgs, cfg)
	}
	return cfgs, nameNode.n.Line, nil
}

func checkVersion(o node) error {
	v, err := o.scalar("apiVersion")
	if err != nil {
		return err
	}
	if v.n.Value != APIVersion {
		return v.errorf(ErrUnsupported, "%q, want %s", v.n.Value, APIVersion)
	}
	return nil
}

// readWindow maps spec.timeWindow, which must hold one rolling window.
func readWindow(spec node) (time.Duration, error) {
	tw, ok := spec.get("timeWindow")
	if !ok {
		return 0, spec.missing("timeWindow")
	}
	if tw.n.Kind != yaml.SequenceNode || len(tw.n.Content) != 1 {
		return 0, tw.errorf(ErrInvalid, "want a list of exactly one time window")
	}
	w := tw.index(0)
	if w.n == nil || w.n.Kind != yaml.MappingNode {
		return 0, w.errorf(ErrInvalid, "want a time window (a mapping)")
	}
	if cal, ok := w.get("calendar"); ok {
		return 0, cal.errorf(ErrUnsupported, "calendar-aligned windows are not supported, only rolling ones")
	}
	rolling, ok := w.get("isRolling")
	if !ok {
		return 0, w.missing("isRolling")
	}
	if err := rolling.wantScalar(); err != nil {
		return 0, err
	}
	switch strings.ToLower(rolling.n.Value) {
	case "true":
	case "false":
		return 0, rolling.errorf(ErrUnsupported, "false, only rolling windows are supported")
	default:
		return 0, rolling.errorf(ErrInvalid, "%q, want true", rolling.n.Value)
	}
	dur, err := w.scalar("duration")
	if err != nil {
		return 0, err
	}
	d, msg, kind := parseDuration(dur.n.Value)
	if kind != nil {
		return 0, dur.errorf(kind, "%s", msg)
	}
	return d, nil
}

// parseDuration reads OpenSLO's duration shorthand: a positive whole number
// followed by m, h, d or w. Months, quarters and years (M, Q, Y) have no
// fixed length and are refused. A refusal comes with a message and the
// sentinel it matches.
func parseDuration(s string) (d time.Duration, msg string, kind error) {
	want := "want a whole number followed by m, h, d or w, such as 30d"
	if len(s) < 2 {
		return 0, fmt.Sprintf("%q, %s", s, want), ErrInvalid
	}
	digits, unit := s[:len(s)-1], s[len(s)-1]
	var u time.Duration
	switch unit {
	case 'm':
		u = time.Minute
	case 'h':
		u = time.Hour
	case 'd':
		u = 24 * time.Hour
	case 'w':
		u = 7 * 24 * time.Hour
	case 'M', 'Q', 'Y':
		return 0, fmt.Sprintf("%q: months, quarters and years have no fixed length; %s", s, want), ErrUnsupported
	default:
		return 0, fmt.Sprintf("%q, %s", s, want), ErrInvalid
	}
	if strings.Trim(digits, "0123456789") != "" {
		return 0, fmt.Sprintf("%q, %s", s, want), ErrInvalid
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > math.MaxInt64/int64(u) {
		return 0, fmt.Sprintf("%q is too long for Levee (at most about 292 years)", s), ErrInvalid
	}
	if n == 0 {
		return 0, fmt.Sprintf("%q, want a positive duration", s), ErrInvalid
	}
	return time.Duration(n) * u, "", nil
}

type sliKind int

const (
	availabilitySLI sliKind = iota + 1
	latencySLI
)

// readIndicator maps the indicator or indicatorRef field of x (an SLO's
// spec or one objective), if it has one.
func readIndicator(x node, slis map[string]node) (kind sliKind, ok bool, err error) {
	ind, hasInd := x.get("indicator")
	ref, hasRef := x.get("indicatorRef")
	switch {
	case hasInd && hasRef:
		return 0, false, ref.errorf(ErrInvalid, "set indicator or indicatorRef, not both")
	case hasInd:
		if ind.n.Kind != yaml.MappingNode {
			return 0, false, ind.errorf(ErrInvalid, "want an SLI (a mapping)")
		}
	case hasRef:
		if err := ref.wantScalar(); err != nil {
			return 0, false, err
		}
		sli, found := slis[ref.n.Value]
		if !found {
			return 0, false, ref.errorf(ErrInvalid, "no SLI named %q in the stream", ref.n.Value)
		}
		if err := checkVersion(sli); err != nil {
			return 0, false, err
		}
		ind = sli
	default:
		return 0, false, nil
	}
	spec, err := ind.mapping("spec")
	if err != nil {
		return 0, false, err
	}
	ratio, hasRatio := spec.get("ratioMetric")
	threshold, hasThreshold := spec.get("thresholdMetric")
	switch {
	case hasRatio && hasThreshold:
		return 0, false, threshold.errorf(ErrInvalid, "set ratioMetric or thresholdMetric, not both")
	case hasRatio:
		if ratio.n.Kind != yaml.MappingNode {
			return 0, false, ratio.errorf(ErrInvalid, "want a mapping")
		}
		return availabilitySLI, true, nil
	case hasThreshold:
		if threshold.n.Kind != yaml.MappingNode {
			return 0, false, threshold.errorf(ErrInvalid, "want a mapping")
		}
		return latencySLI, true, nil
	default:
		return 0, false, spec.errorf(ErrInvalid, "want ratioMetric or thresholdMetric")
	}
}

// readTarget maps an objective's target, or its targetPercent divided by
// 100.
func readTarget(obj node) (float64, error) {
	t, hasT := obj.get("target")
	tp, hasTP := obj.get("targetPercent")
	switch {
	case hasT && hasTP:
		return 0, tp.errorf(ErrInvalid, "set target or targetPercent, not both")
	case hasT:
		f, err := t.float()
		if err != nil {
			return 0, err
		}
		if !(f > 0 && f < 1) {
			return 0, t.errorf(ErrInvalid, "%s, want a fraction between 0 and 1", t.n.Value)
		}
		return f, nil
	case hasTP:
		f, err := tp.float()
		if err != nil {
			return 0, err
		}
		if !(f > 0 && f < 100) {
			return 0, tp.errorf(ErrInvalid, "%s, want a percentage between 0 and 100", tp.n.Value)
		}
		return f / 100, nil
	default:
		return 0, obj.missing("target")
	}
}

// readThreshold maps the op and value of an objective on a threshold
// metric: a latency in seconds that good events do not exceed.
func readThreshold(obj node) (time.Duration, error) {
	op, err := obj.scalar("op")
	if err != nil {
		return 0, err
	}
	if op.n.Value != "lte" && op.n.Value != "lt" {
		return 0, op.errorf(ErrUnsupported, "%q, only lte and lt (a latency no greater than value) are supported", op.n.Value)
	}
	v, err := obj.scalar("value")
	if err != nil {
		return 0, err
	}
	d, ok := parseSeconds(v.n.Value)
	if !ok {
		return 0, v.errorf(ErrInvalid, "%q, want a positive latency in seconds", v.n.Value)
	}
	return d, nil
}

// parseSeconds reads a positive number of seconds. A plain decimal is read
// exactly, to the nanosecond; other forms of number through float64.
func parseSeconds(s string) (time.Duration, bool) {
	if s != "" && strings.Trim(s, "0123456789.") == "" {
		d, err := time.ParseDuration(s + "s")
		return d, err == nil && d > 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f > 0) || f*1e9 >= math.MaxInt64 {
		return 0, false
	}
	d := time.Duration(math.Round(f * 1e9))
	return d, d > 0
}

// objectiveSuffix names one of several objectives of an SLO: its
// displayName in lower case with runs of other characters than letters and
// digits turned into '-', or else its index.
func objectiveSuffix(obj node, i int) string {
	if dn, ok := obj.get("displayName"); ok && dn.n.Kind == yaml.ScalarNode {
		var b strings.Builder
		dash := false
		for _, r := range strings.ToLower(dn.n.Value) {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				if dash && b.Len() > 0 {
					b.WriteByte('-')
				}
				dash = false
				b.WriteRune(r)
			} else {
				dash = true
			}
		}
		if b.Len() > 0 {
			return b.String()
		}
	}
	return strconv.Itoa(i)
}

// node is a YAML node with its path in its document and the line errors
// about it name: that of its key for a field's value, its own otherwise.
type node struct {
	n    *yaml.Node
	path string
	line int
}

// deref follows aliases to the node they name; nil when the chain is too
// long.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i == maxAliasHops {
			return nil
		}
		n = n.Alias
	}
	return n
}

func (x node) join(name string) string {
	if x.path == "" {
		return name
	}
	return x.path + "." + name
}

func (x node) isNull() bool {
	return x.n.Kind == yaml.ScalarNode && x.n.Tag == "!!null"
}

func (x node) errorf(kind error, format string, args ...any) error {
	return &Error{Line: x.lineNo(), Path: x.path, Msg: fmt.Sprintf(format, args...), Err: kind}
}

func (x node) missing(field string) error {
	return &Error{Line: x.lineNo(), Path: x.join(field), Msg: "missing", Err: ErrInvalid}
}

func (x node) lineNo() int {
	switch {
	case x.line > 0:
		return x.line
	case x.n != nil:
		return x.n.Line
	}
	return 0
}

// get returns the value of a mapping's field; a null value counts as
// missing.
func (x node) get(field string) (node, bool) {
	if x.n.Kind != yaml.MappingNode {
		return node{}, false
	}
	for i := 0; i+1 < len(x.n.Content); i += 2 {
		k := deref(x.n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode || k.Value != field {
			continue
		}
		v := node{n: deref(x.n.Content[i+1]), path: x.join(field), line: k.Line}
		if v.n == nil {
			v.n = x.n.Content[i+1]
			return v, true // wantScalar and friends report the alias chain
		}
		return v, !v.isNull()
	}
	return node{}, false
}

func (x node) index(i int) node {
	return node{n: deref(x.n.Content[i]), path: x.path + "[" + strconv.Itoa(i) + "]"}
}

// kind returns the object's kind, or "" when it has none.
func (x node) kind() string {
	k, ok := x.get("kind")
	if !ok || k.n.Kind != yaml.ScalarNode {
		return ""
	}
	return k.n.Value
}

// name returns the object's metadata.name.
func (x node) name() (string, bool) {
	meta, ok := x.get("metadata")
	if !ok {
		return "", false
	}
	n, ok := meta.get("name")
	if !ok || n.n.Kind != yaml.ScalarNode {
		return "", false
	}
	return n.n.Value, true
}

// nameLine returns the line of the object's metadata.name.
func (x node) nameLine() int {
	if meta, ok := x.get("metadata"); ok {
		if n, ok := meta.get("name"); ok {
			return n.lineNo()
		}
	}
	return x.lineNo()
}

func (x node) mapping(field string) (node, error) {
	v, ok := x.get(field)
	if !ok {
		return node{}, x.missing(field)
	}
	if v.n.Kind != yaml.MappingNode {
		return node{}, v.errorf(ErrInvalid, "want a mapping")
	}
	return v, nil
}

func (x node) scalar(field string) (node, error) {
	v, ok := x.get(field)
	if !ok {
		return node{}, x.missing(field)
	}
	return v, v.wantScalar()
}

func (x node) wantScalar() error {
	if x.n.Kind != yaml.ScalarNode {
		return x.errorf(ErrInvalid, "want a single value")
	}
	return nil
}

func (x node) float() (float64, error) {
	if err := x.wantScalar(); err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(x.n.Value, 64)
	if err != nil {
		return 0, x.errorf(ErrInvalid, "%q, want a number", x.n.Value)
	}
	return f, nil
}
