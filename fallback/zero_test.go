package fallback_test

import (
	"context"
	"errors"
	"testing"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/fallback"
)

// TestZeroValues checks that the zero values of the package's exported
// types do what their documentation says, and never panic.
func TestZeroValues(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"Cache is NewCache(CacheConfig{})", func(t *testing.T) {
			var c fallback.Cache[int]
			c.Put(ctx, 5)
			if v, _, ok := c.Get(ctx); !ok || v != 5 || c.Len() != 1 {
				t.Errorf("Get() = %v, %v with Len %d; want 5, true, 1", v, ok, c.Len())
			}
		}},
		{"Chain passes results through", func(t *testing.T) {
			var c fallback.Chain[int]
			boom := errors.New("boom")
			if v, err := levee.Do(ctx, levee.New(&c), func(context.Context) (int, error) { return 2, boom }); v != 2 || err != boom {
				t.Errorf("Do through a zero Chain = %v, %v; want 2, boom", v, err)
			}
		}},
		{"Step is refused by New", func(t *testing.T) {
			if _, err := fallback.New(fallback.Config{}, fallback.Step[int]{}); err == nil {
				t.Errorf("New with a zero Step = nil error, want one")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic: %v", r)
				}
			}()
			tt.run(t)
		})
	}
}
