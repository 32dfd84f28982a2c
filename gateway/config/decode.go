package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Limits that keep a hostile or broken file from exhausting the loader.
const (
	// MaxFileSize is the largest configuration file read, in bytes.
	MaxFileSize = 4 << 20
	// maxValues bounds the values decoded, aliases expanded, so that a small
	// file of nested aliases ("billion laughs") cannot take long.
	maxValues = 200_000
	// maxAliasHops bounds a chain of aliases, and maxMergeDepth nested "<<"
	// merges.
	maxAliasHops  = 32
	maxMergeDepth = 16
	// maxProblems bounds the problems reported for one file.
	maxProblems = 200
)

// Options tune [Parse] and [Load]. The zero value reads the process's
// environment and resolves relative paths from the current directory.
type Options struct {
	// LookupEnv looks up the environment variables named in secret fields.
	// Nil means [os.LookupEnv].
	LookupEnv func(name string) (string, bool)
	// Dir is the directory relative file paths in the configuration are read
	// from. Empty means the current directory; [Load] sets it to the file's
	// directory when empty.
	Dir string
}

// Load reads and checks the configuration file at path; see [Parse].
func Load(path string, opts Options) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if opts.Dir == "" {
		opts.Dir = filepath.Dir(path)
	}
	return Parse(data, opts)
}

// Parse decodes one YAML document into a [Config], fills in the default of
// every omitted field, and checks the result: unknown fields, malformed
// values, references between sections (a route naming a missing upstream),
// duplicate names, and combinations that cannot work (a per-try timeout not
// shorter than the route's timeout). It reports every problem at once, as
// [Problems], and returns a nil Config when there is any.
func Parse(data []byte, opts Options) (*Config, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	d := &decoder{env: opts.LookupEnv, pos: map[string]position{}, budget: maxValues}
	var cfg Config
	root := d.document(data)
	if root == nil && len(d.probs) == 0 {
		// An empty document: every field takes its default, and every
		// required one is missing.
		root = &yaml.Node{Kind: yaml.MappingNode, Line: 1, Column: 1}
	}
	if root != nil {
		d.value("", root, reflect.ValueOf(&cfg).Elem())
		// The checks run even after problems, so that one run reports them
		// all; a check that involves a value already reported is skipped.
		bad := make([]string, len(d.probs))
		for i, p := range d.probs {
			bad[i] = p.Path
		}
		c := checker{decoder: d, cfg: &cfg, dir: opts.Dir, bad: bad}
		c.check()
	}
	if len(d.probs) > 0 {
		return nil, d.probs.sort()
	}
	return &cfg, nil
}

// position is where a value sits in the document.
type position struct{ line, col int }

// decoder turns a YAML node tree into typed values, recording problems and
// the position of every value for the checks that follow.
type decoder struct {
	env    func(string) (string, bool)
	probs  Problems
	pos    map[string]position // path → position of the value written there
	budget int                 // values left to decode
	full   bool                // maxProblems reached
}

// problem records a problem at n's position.
func (d *decoder) problem(path string, n *yaml.Node, format string, args ...any) {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	d.problemAt(path, line, col, fmt.Sprintf(format, args...))
}

func (d *decoder) problemAt(path string, line, col int, msg string) {
	if d.full {
		return
	}
	if len(d.probs) == maxProblems {
		d.full = true
		msg = "too many problems; the rest are not reported"
		path = ""
	}
	d.probs = append(d.probs, Problem{Path: path, Line: line, Column: col, Message: msg})
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses data and returns its root node, or nil after recording a
// problem (or for an empty document).
func (d *decoder) document(data []byte) *yaml.Node {
	if len(data) > MaxFileSize {
		d.problemAt("", 0, 0, fmt.Sprintf("the file is larger than %d bytes", MaxFileSize))
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		d.syntax(err)
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		d.problem("", &next, "the file holds more than one YAML document")
		return nil
	case !errors.Is(err, io.EOF):
		d.syntax(err)
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil
	}
	return doc.Content[0]
}

// syntax records a YAML parser error, with its line when it gives one.
func (d *decoder) syntax(err error) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.problemAt("", line, 0, "YAML: "+m[2])
		return
	}
	d.problemAt("", 0, 0, "YAML: "+strings.TrimPrefix(msg, "yaml: "))
}

// resolve follows aliases to the node they name, or returns nil after
// recording a problem.
func (d *decoder) resolve(path string, n *yaml.Node) *yaml.Node {
	for hops := 0; n.Kind == yaml.AliasNode; hops++ {
		if n.Alias == nil || hops == maxAliasHops {
			d.problem(path, n, "alias cannot be resolved")
			return nil
		}
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// kindName names a node's kind for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if isNull(n) {
		return "empty"
	}
	return "a scalar"
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	rateType     = reflect.TypeFor[Rate]()
	sizeType     = reflect.TypeFor[Size]()
	percentType  = reflect.TypeFor[Percent]()
	secretType   = reflect.TypeFor[Secret]()
	keyPartType  = reflect.TypeFor[KeyPart]()
)

// enum is implemented by the string types that take one of a fixed set of
// values.
type enum interface{ values() []string }

// isScalar reports whether values of t are written as one YAML scalar.
func isScalar(t reflect.Type) bool {
	switch t {
	case durationType, rateType, sizeType, percentType:
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		return true
	}
	return false
}

// value decodes n into v, whose YAML path is path.
func (d *decoder) value(path string, n *yaml.Node, v reflect.Value) {
	if d.budget <= 0 {
		return
	}
	d.budget--
	if d.budget == 0 {
		d.problem(path, n, "the document expands to too many values (aliases?)")
		return
	}
	if _, seen := d.pos[path]; !seen && n.Line > 0 {
		d.pos[path] = position{n.Line, n.Column}
	}
	at := n
	if n = d.resolve(path, n); n == nil {
		return
	}
	t := v.Type()
	switch {
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		if isNull(n) { // "retry:" alone turns the policy on with its defaults
			d.value(path, &yaml.Node{Kind: yaml.MappingNode, Line: at.Line, Column: at.Column}, v.Elem())
			return
		}
		d.value(path, n, v.Elem())
	case t.Kind() == reflect.Struct && t != rateType:
		d.structValue(path, at, n, v)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.problem(path, at, "must be a list, not %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.value(fmt.Sprintf("%s[%d]", path, i), item, s.Index(i))
		}
		v.Set(s)
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.problem(path, at, "must be a mapping, not %s", kindName(n))
			return
		}
		m := reflect.MakeMap(t)
		for _, e := range d.entries(path, n, 0) {
			ev := reflect.New(t.Elem()).Elem()
			d.value(join(path, e.key.Value), e.val, ev)
			m.SetMapIndex(reflect.ValueOf(e.key.Value).Convert(t.Key()), ev)
		}
		v.Set(m)
	default:
		if n.Kind != yaml.ScalarNode || isNull(n) {
			d.problem(path, at, "must be %s, not %s", describe(t), kindName(n))
			return
		}
		if err := d.scalar(n, v); err != nil {
			d.problem(path, at, "%s", err.Error())
		}
	}
}

// describe names what a scalar of type t must be, for messages.
func describe(t reflect.Type) string {
	switch t {
	case durationType:
		return `a duration such as "250ms"`
	case rateType:
		return `a rate such as "100/s"`
	case sizeType:
		return `a size such as "8MiB"`
	case percentType:
		return `a percentage such as "12.5%"`
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	}
	return "a string"
}

// scalar decodes the scalar node n into v.
func (d *decoder) scalar(n *yaml.Node, v reflect.Value) error {
	s := n.Value
	switch v.Type() {
	case durationType:
		x, err := ParseDuration(s)
		v.SetInt(int64(x))
		return err
	case rateType:
		x, err := ParseRate(s)
		v.Set(reflect.ValueOf(x))
		return err
	case sizeType:
		if n.Tag == "!!int" || n.Tag == "!!str" {
			x, err := ParseSize(s)
			v.SetInt(int64(x))
			return err
		}
	case percentType:
		if n.Tag == "!!str" {
			x, err := ParsePercent(s)
			v.SetFloat(float64(x))
			return err
		}
		return errors.New(`must be a percentage such as "12.5%"`)
	case secretType:
		x, err := expand(s, d.env)
		v.SetString(x)
		return err
	case keyPartType:
		v.SetString(s)
		return checkKeyPart(s)
	}
	switch v.Kind() {
	case reflect.String:
		if e, ok := v.Interface().(enum); ok {
			if !contains(e.values(), s) {
				return fmt.Errorf("must be one of %s, not %q", strings.Join(e.values(), ", "), s)
			}
			v.SetString(s)
			return nil
		}
		x, err := literal(s)
		v.SetString(x)
		return err
	case reflect.Bool:
		if n.Tag != "!!bool" {
			return fmt.Errorf("must be true or false, not %q", s)
		}
		b, err := strconv.ParseBool(strings.ToLower(s))
		v.SetBool(b)
		if err != nil {
			return fmt.Errorf("must be true or false, not %q", s)
		}
		return nil
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(s, 0, 64)
		if n.Tag != "!!int" || err != nil || v.OverflowInt(i) {
			return fmt.Errorf("must be an integer, not %q", s)
		}
		v.SetInt(i)
		return nil
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if (n.Tag != "!!int" && n.Tag != "!!float") || err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("must be a number, not %q", s)
		}
		v.SetFloat(f)
		return nil
	}
	return fmt.Errorf("must be %s", describe(v.Type()))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// literal checks a plain string: "${" is refused, since only secret fields
// expand environment variables, and "$${" stands for "${".
func literal(s string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	rest := strings.ReplaceAll(s, "$${", "")
	if strings.Contains(rest, "${") {
		return s, errors.New(`"${" expands environment variables only in redis.username and redis.password; write "$${" for a literal "${"`)
	}
	return strings.ReplaceAll(s, "$${", "${"), nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expand replaces ${NAME} in a secret with the environment variable NAME,
// which must be set, and "$${" with "${".
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i])
			b.WriteByte('{')
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", errors.New(`has "${" without a closing "}"`)
		}
		name := s[i+2 : i+end]
		if !envName.MatchString(name) {
			return "", fmt.Errorf("${%s}: not a valid environment variable name", name)
		}
		val, ok := lookup(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		b.WriteString(val)
		s = s[i+end+1:]
	}
}

// checkKeyPart checks one part of a limiter's key.
func checkKeyPart(s string) error {
	switch s {
	case "client_ip", "route":
		return nil
	}
	if kind, name, ok := strings.Cut(s, ":"); ok && (kind == "header" || kind == "cookie") {
		if !isToken(name) {
			return fmt.Errorf("%s name %q is not a valid token", kind, name)
		}
		return nil
	}
	return fmt.Errorf(`must be client_ip, route, header:NAME or cookie:NAME, not %q`, s)
}

// entry is a key and its value in a mapping, merges expanded.
type entry struct{ key, val *yaml.Node }

// entries lists n's keys and values in order, with the entries of "<<"
// merges after them for the keys not already given, and reports duplicate
// and non-scalar keys.
func (d *decoder) entries(path string, n *yaml.Node, depth int) []entry {
	// Every merge costs a visit: nested merges of aliases could otherwise
	// take exponential time.
	if d.budget <= 0 {
		return nil
	}
	d.budget--
	if d.budget == 0 {
		d.problem(path, n, "the document expands to too many values (aliases?)")
		return nil
	}
	var out []entry
	var merges []*yaml.Node
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, val)
			continue
		}
		if rk := d.resolve(path, k); rk == nil || rk.Kind != yaml.ScalarNode || isNull(rk) {
			d.problem(path, k, "keys must be strings")
			continue
		} else {
			k = rk
		}
		if f, dup := first[k.Value]; dup {
			d.problem(join(path, k.Value), k, "duplicate key (first at line %d:%d)", f.Line, f.Column)
			continue
		}
		first[k.Value] = k
		out = append(out, entry{k, val})
	}
	for _, m := range merges {
		if depth == maxMergeDepth {
			d.problem(path, m, "merges nest too deeply")
			break
		}
		m = d.resolve(path, m)
		if m == nil {
			continue
		}
		var sources []*yaml.Node
		switch m.Kind {
		case yaml.MappingNode:
			sources = []*yaml.Node{m}
		case yaml.SequenceNode:
			sources = m.Content
		default:
			d.problem(path, m, "a merge (<<) needs a mapping or a list of mappings")
			continue
		}
		for _, src := range sources {
			if src = d.resolve(path, src); src == nil {
				continue
			}
			if src.Kind != yaml.MappingNode {
				d.problem(path, src, "a merge (<<) needs a mapping or a list of mappings")
				continue
			}
			for _, e := range d.entries(path, src, depth+1) {
				if _, given := first[e.key.Value]; !given {
					first[e.key.Value] = e.key
					out = append(out, e)
				}
			}
		}
	}
	return out
}

// field is a struct field as the configuration file sees it.
type field struct {
	name     string // YAML key
	index    int
	def      string // default, as written in YAML; "" for none
	hasDef   bool
	required bool
}

// fields lists t's configuration fields.
func fields(t reflect.Type) []field {
	out := make([]field, 0, t.NumField())
	for i := range t.NumField() {
		sf := t.Field(i)
		name := sf.Tag.Get("yaml")
		if name == "" || name == "-" {
			continue
		}
		def, hasDef := sf.Tag.Lookup("default")
		out = append(out, field{name: name, index: i, def: def, hasDef: hasDef,
			required: sf.Tag.Get("required") == "true"})
	}
	return out
}

// structValue decodes the mapping n (written at at) into the struct v.
func (d *decoder) structValue(path string, at, n *yaml.Node, v reflect.Value) {
	fs := fields(v.Type())
	if n.Kind != yaml.MappingNode {
		d.problem(path, at, "must be a mapping, not %s", kindName(n))
		return
	}
	seen := make(map[string]bool, len(fs))
	for _, e := range d.entries(path, n, 0) {
		f, ok := lookupField(fs, e.key.Value)
		if !ok && path == "" && strings.HasPrefix(e.key.Value, "x-") {
			continue // a place for anchors shared by the sections below
		}
		if !ok {
			msg := fmt.Sprintf("unknown field %q", e.key.Value)
			if s := suggest(fs, e.key.Value); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.problem(join(path, e.key.Value), e.key, "%s", msg)
			continue
		}
		fv := v.Field(f.index)
		if isNull(e.val) && fv.Kind() != reflect.Pointer {
			continue // "key:" alone is the same as leaving the key out
		}
		seen[f.name] = true
		d.value(join(path, f.name), e.val, fv)
	}
	for _, f := range fs {
		if seen[f.name] {
			continue
		}
		p := join(path, f.name)
		if f.required {
			d.problem(p, at, "is required")
			continue
		}
		d.fill(p, f, v.Field(f.index))
	}
}

// fill gives an omitted field its default; an omitted non-pointer struct
// gets the defaults of its own fields.
func (d *decoder) fill(path string, f field, v reflect.Value) {
	if f.hasDef {
		src := f.def
		if v.Kind() == reflect.Slice {
			src = "[" + src + "]"
		}
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil || len(doc.Content) != 1 {
			panic(fmt.Sprintf("config: bad default %q for %s", f.def, path))
		}
		clearLines(doc.Content[0])
		d.value(path, doc.Content[0], v)
		return
	}
	if v.Kind() == reflect.Struct && !isScalar(v.Type()) {
		for _, sub := range fields(v.Type()) {
			d.fill(join(path, sub.name), sub, v.Field(sub.index))
		}
	}
}

// clearLines zeroes the positions of a default's nodes, so that they are not
// recorded as written in the file.
func clearLines(n *yaml.Node) {
	n.Line, n.Column = 0, 0
	for _, c := range n.Content {
		clearLines(c)
	}
}

func lookupField(fs []field, key string) (field, bool) {
	for _, f := range fs {
		if f.name == key {
			return f, true
		}
	}
	return field{}, false
}

// suggest returns the field name closest to an unknown key, if one is close.
func suggest(fs []field, key string) string {
	best, bestDist := "", 3
	norm := strings.ToLower(strings.ReplaceAll(key, "-", "_"))
	for _, f := range fs {
		if dist := editDistance(norm, f.name); dist < bestDist {
			best, bestDist = f.name, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between short strings a and b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// join appends a key to a YAML path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
