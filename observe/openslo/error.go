package openslo

import (
	"errors"
	"strconv"
	"strings"
)

var (
	// ErrInvalid is matched by errors about documents that break the OpenSLO
	// v1 schema or Levee's rules: malformed YAML, a missing field, a value
	// of the wrong type or out of range.
	ErrInvalid = errors.New("openslo: invalid document")
	// ErrUnsupported is matched by errors about valid OpenSLO that Levee
	// cannot express: calendar windows, budgeting methods other than
	// Occurrences, threshold operators other than lte and lt, and API
	// versions other than openslo/v1.
	ErrUnsupported = errors.New("openslo: unsupported feature")
)

// Error locates what [Decode] refused. It matches [ErrInvalid] or
// [ErrUnsupported] with errors.Is.
type Error struct {
	// Line is the 1-based line of the offending node in the stream; zero
	// when unknown.
	Line int
	// Path is the offending node's path inside its document, such as
	// spec.objectives[0].target; empty when the error is about the stream.
	Path string
	// Msg says what is wrong.
	Msg string
	// Err is ErrInvalid or ErrUnsupported.
	Err error
}

// Error formats the error as "openslo: line 14: spec.objectives[0].target: 1.5,
// want a fraction between 0 and 1".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("openslo: ")
	if e.Line > 0 {
		b.WriteString("line " + strconv.Itoa(e.Line) + ": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the sentinel the error matches.
func (e *Error) Unwrap() error { return e.Err }
