package levee

import (
	"fmt"
	"runtime/debug"
)

// PanicError is a panic recovered from a guarded call. Policies count it as a
// failure. Depending on the pipeline's configuration it is then re-raised
// (the default) or returned to the caller.
type PanicError struct {
	// Value is what the call passed to panic.
	Value any
	// Stack is the goroutine's stack where the panic happened.
	Stack []byte
}

// NewPanicError captures the current stack. Call it from the deferred
// function that recovered v.
func NewPanicError(v any) *PanicError {
	return &PanicError{Value: v, Stack: debug.Stack()}
}

// Error describes the panic value; the stack is in Stack.
func (e *PanicError) Error() string { return fmt.Sprintf("levee: panic: %v", e.Value) }

// Unwrap returns the panic value when it is an error (http.ErrAbortHandler,
// for example), so errors.Is still recognises it.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}
