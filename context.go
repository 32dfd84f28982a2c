package levee

import (
	"context"
	"log/slog"
	"strings"
)

// Criticality says how much a request matters when a service must shed load.
// A shedder rejects a level only while it already rejects every lower level.
// It travels with the context, and the HTTP and gRPC adapters carry it to
// downstream services in a header.
type Criticality uint8

// The criticality levels, lowest first. The zero value is [Critical], the
// safe default for requests that say nothing.
const (
	Critical Criticality = iota
	CriticalPlus
	SheddablePlus
	Sheddable
)

// String returns the level's name as used in headers: CRITICAL_PLUS,
// CRITICAL, SHEDDABLE_PLUS or SHEDDABLE.
func (c Criticality) String() string {
	switch c {
	case CriticalPlus:
		return "CRITICAL_PLUS"
	case Critical:
		return "CRITICAL"
	case SheddablePlus:
		return "SHEDDABLE_PLUS"
	case Sheddable:
		return "SHEDDABLE"
	}
	return "CRITICAL"
}

// Rank orders levels from the most sheddable (0) to the least (3), for
// comparisons: a shedder that rejects rank r rejects every lower rank too.
func (c Criticality) Rank() int {
	switch c {
	case Sheddable:
		return 0
	case SheddablePlus:
		return 1
	case CriticalPlus:
		return 3
	}
	return 2
}

// ParseCriticality parses a level name, case-insensitively, accepting '-'
// for '_'. It reports false for anything else.
func ParseCriticality(s string) (Criticality, bool) {
	switch strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", "_")) {
	case "CRITICAL_PLUS":
		return CriticalPlus, true
	case "CRITICAL":
		return Critical, true
	case "SHEDDABLE_PLUS":
		return SheddablePlus, true
	case "SHEDDABLE":
		return Sheddable, true
	}
	return Critical, false
}

type criticalityKey struct{}

// WithCriticality returns a context carrying c.
func WithCriticality(ctx context.Context, c Criticality) context.Context {
	return context.WithValue(ctx, criticalityKey{}, c)
}

// CriticalityFrom returns the criticality ctx carries, or [Critical].
func CriticalityFrom(ctx context.Context) Criticality {
	if c, ok := ctx.Value(criticalityKey{}).(Criticality); ok {
		return c
	}
	return Critical
}

// Go runs fn in a new goroutine that cannot crash the process unseen: a panic
// in fn is recovered and handed to onPanic as a [*PanicError] with its stack,
// or logged with [slog.Default] when onPanic is nil. Use it for goroutines a
// request handler starts, which no middleware can protect.
func Go(fn func(), onPanic func(*PanicError)) {
	go func() {
		defer func() {
			if v := recover(); v != nil {
				pe := NewPanicError(v)
				if onPanic != nil {
					onPanic(pe)
					return
				}
				slog.Default().Error("levee: panic in goroutine", "panic", pe.Value, "stack", string(pe.Stack))
			}
		}()
		fn()
	}()
}
