package hedge_test

import (
	"context"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/hedge"
)

// TestZeroValues checks that the zero Hedger works as New(Config{}) does,
// and never panics.
func TestZeroValues(t *testing.T) {
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("panic: %v", r)
		}
	}()
	var h hedge.Hedger
	if d := h.Delay(); d != 100*time.Millisecond {
		t.Errorf("zero Hedger Delay() = %v, want 100ms", d)
	}
	var zero hedge.Hedger
	if v, err := levee.Do(context.Background(), levee.New(&zero), func(context.Context) (int, error) { return 3, nil }); v != 3 || err != nil {
		t.Errorf("Do through a zero Hedger = %v, %v; want 3, nil", v, err)
	}
}
