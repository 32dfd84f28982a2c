package proxy

import (
	"net/http"
	"testing"
	"time"

	"github.com/levee-go/levee"
)

// TestSetRetryAfter: a wait is told rounded up and never as 0, and a wait
// no number expresses (levee.Never) or none at all writes no field.
func TestSetRetryAfter(t *testing.T) {
	tests := []struct {
		wait time.Duration
		want string
	}{
		{time.Nanosecond, "1"},
		{999 * time.Millisecond, "1"},
		{time.Second, "1"},
		{1999 * time.Millisecond, "2"},
		{0, ""},
		{-time.Second, ""},
		{levee.Never, ""},
	}
	for _, tt := range tests {
		h := http.Header{}
		setRetryAfter(h, tt.wait)
		if got := h.Get("Retry-After"); got != tt.want {
			t.Errorf("setRetryAfter(%v) wrote %q, want %q", tt.wait, got, tt.want)
		}
	}
}
