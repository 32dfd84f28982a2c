package config

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration file, located by its YAML
// path and its position.
type Problem struct {
	// Path locates the value in the document, such as
	// "routes[2].policies.retry.attempts". Empty for a problem with the
	// document as a whole, such as a syntax error.
	Path string
	// Line and Column are the 1-based position of the value, or of the
	// mapping that lacks it. Column is 0 when only the line is known; both
	// are 0 when neither is.
	Line, Column int
	// Message says what is wrong, such as "must be ≥ 1".
	Message string
}

// Error formats p as "routes[2].policies.retry.attempts: must be ≥ 1 (line
// 41:18)".
func (p Problem) Error() string {
	var b strings.Builder
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if p.Line > 0 {
		b.WriteString(" (line ")
		b.WriteString(strconv.Itoa(p.Line))
		if p.Column > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(p.Column))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// Problems is every problem found in one configuration file, in the order
// they appear in it. [Parse] and [Load] return it as their error.
type Problems []Problem

// Error formats the problems one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// sort orders the problems by position, then path, and drops exact
// duplicates (an alias can repeat a problem at one place).
func (ps Problems) sort() Problems {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Path, b.Path), cmp.Compare(a.Message, b.Message))
	})
	return slices.Compact(ps)
}
