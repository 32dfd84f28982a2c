package chaos

import (
	"context"
	"reflect"
)

// MatchValue returns a match (for [Fault.Match] or [Fault.When]) that
// accepts calls whose context holds want under key, compared with ==. A
// want whose type cannot be compared matches nothing.
func MatchValue(key, want any) func(ctx context.Context) bool {
	if want != nil && !reflect.TypeOf(want).Comparable() {
		return func(context.Context) bool { return false }
	}
	return func(ctx context.Context) bool { return ctx.Value(key) == want }
}

// MatchKey returns a match that accepts calls whose context holds any
// non-nil value under key.
func MatchKey(key any) func(ctx context.Context) bool {
	return func(ctx context.Context) bool { return ctx.Value(key) != nil }
}

// tagKey keys a tag in a context; each tag is its own key so that a call
// can carry several.
type tagKey struct{ tag string }

// WithTag returns a copy of ctx carrying tag, for faults narrowed with
// [MatchTag]: a test, a handler or a gateway route marks the calls that
// may get faults, and leaves every other call alone.
func WithTag(ctx context.Context, tag string) context.Context {
	return context.WithValue(ctx, tagKey{tag}, true)
}

// HasTag reports whether ctx carries tag (see [WithTag]).
func HasTag(ctx context.Context, tag string) bool { return ctx.Value(tagKey{tag}) != nil }

// MatchTag returns a match that accepts calls whose context carries tag
// (see [WithTag]).
func MatchTag(tag string) func(ctx context.Context) bool {
	key := any(tagKey{tag}) // converted once, not per call
	return func(ctx context.Context) bool { return ctx.Value(key) != nil }
}
