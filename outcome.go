package levee

import (
	"context"
	"errors"
	"time"
)

// Result says what a finished call tells a policy about the health of what it
// called.
type Result uint8

const (
	// Success: the dependency did its job.
	Success Result = iota
	// Failure: the dependency failed or was too slow; breakers and limits
	// learn from it and retries consider it.
	Failure
	// Ignored: the call ended in a way that says nothing about the
	// dependency, such as the caller cancelling it or a client error. It is
	// neither counted as a success nor as a failure.
	Ignored
)

// String returns "success", "failure" or "ignored".
func (r Result) String() string {
	switch r {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Ignored:
		return "ignored"
	}
	return "unknown"
}

// Outcome is how a call ended.
type Outcome struct {
	// Result is the classification of the call.
	Result Result
	// Latency is how long the call took. Zero means unknown: a gate that
	// needs latency measures it itself from its admission time.
	Latency time.Duration
	// Err is the error the call returned, if any.
	Err error
}

// A Classifier decides the [Result] of a call from its error. Adapters
// classify HTTP status codes and gRPC codes into errors or results of their
// own before calling it.
type Classifier func(err error) Result

// DefaultClassifier is the classifier used when none is given:
//
//   - nil is a success;
//   - [context.Canceled] is ignored: the caller gave up, which says nothing
//     about the dependency (a deadline, by contrast, is a failure: the
//     dependency was too slow);
//   - a rejection ([ErrRejected]) by an inner policy is ignored: the
//     dependency was never called;
//   - an error marked with [Ignore] is ignored;
//   - every other error is a failure.
func DefaultClassifier(err error) Result {
	if err == nil {
		return Success
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, ErrRejected) || errors.Is(err, errIgnored) {
		return Ignored
	}
	return Failure
}

// Classify returns c(err), or DefaultClassifier(err) when c is nil.
func (c Classifier) Classify(err error) Result {
	if c == nil {
		return DefaultClassifier(err)
	}
	return c(err)
}

var errIgnored = errors.New("levee: ignored outcome")

// Ignore marks err so that [DefaultClassifier] ignores it: use it for errors
// that are the caller's fault (bad input, not found) and should neither trip
// a breaker nor be retried. errors.Is and errors.As still see err.
func Ignore(err error) error {
	if err == nil {
		return nil
	}
	return ignoredError{err}
}

type ignoredError struct{ err error }

func (e ignoredError) Error() string   { return e.err.Error() }
func (e ignoredError) Unwrap() []error { return []error{e.err, errIgnored} }
