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
//
// The levels compare in rank order: Sheddable < SheddablePlus < Critical <
// CriticalPlus. The zero value, [CriticalityUnset], is a request that said
// nothing; it ranks as [Critical] (compare after [CriticalityFrom], which
// resolves it).
type Criticality uint8

// The criticality levels, lowest first, after the unset zero value.
const (
	// CriticalityUnset is the zero value: no level was given. Shedders
	// and [CriticalityFrom] treat it as [Critical], the safe default for
	// requests that say nothing.
	CriticalityUnset Criticality = iota
	// Sheddable requests are shed first: prefetches, batch work, retries
	// that can wait.
	Sheddable
	// SheddablePlus requests are shed before the critical ones but after
	// Sheddable: work whose failure degrades rather than breaks a page.
	SheddablePlus
	// Critical is the default level: requests a user waits for.
	Critical
	// CriticalPlus requests are shed last, and by a shedder only when it is
	// told to: sign-in, payment, the health of the service itself.
	CriticalPlus
)

// String returns the level's name as used in headers: CRITICAL_PLUS,
// CRITICAL, SHEDDABLE_PLUS or SHEDDABLE; UNSET for the zero value, and
// CRITICAL for a value outside the constants.
func (c Criticality) String() string {
	switch c {
	case CriticalityUnset:
		return "UNSET"
	case Sheddable:
		return "SHEDDABLE"
	case SheddablePlus:
		return "SHEDDABLE_PLUS"
	case CriticalPlus:
		return "CRITICAL_PLUS"
	}
	return "CRITICAL"
}

// Rank numbers levels from the most sheddable (0) to the least (3), for
// indexing: a shedder that rejects rank r rejects every lower rank too.
// [CriticalityUnset], and any value outside the constants, ranks as
// [Critical] (2).
func (c Criticality) Rank() int {
	if c < Sheddable || c > CriticalPlus {
		return Critical.Rank()
	}
	return int(c - Sheddable)
}

// resolve returns c, or [Critical] for the unset zero value and values
// outside the constants.
func (c Criticality) resolve() Criticality {
	if c < Sheddable || c > CriticalPlus {
		return Critical
	}
	return c
}

// ParseCriticality parses a level name, case-insensitively, accepting '-'
// for '_'. It returns [CriticalityUnset] and false for anything else,
// "UNSET" included: a header cannot ask to be unset.
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
	return CriticalityUnset, false
}

type criticalityKey struct{}

// WithCriticality returns a context carrying c.
func WithCriticality(ctx context.Context, c Criticality) context.Context {
	return context.WithValue(ctx, criticalityKey{}, c)
}

// CriticalityFrom returns the criticality ctx carries, or [Critical] when it
// carries none, [CriticalityUnset] or a value outside the constants: the
// result is always one of the four levels.
func CriticalityFrom(ctx context.Context) Criticality {
	if c, ok := ctx.Value(criticalityKey{}).(Criticality); ok {
		return c.resolve()
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
