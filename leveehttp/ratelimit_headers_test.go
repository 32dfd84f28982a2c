package leveehttp_test

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/leveehttp"
)

func TestWriteRateLimitHeaders(t *testing.T) {
	tests := []struct {
		name string
		d    levee.Decision
		opts leveehttp.RateLimitHeaders
		want http.Header
	}{
		{
			name: "rejected, zero options: the IETF fields, no legacy ones",
			d:    levee.Decision{Limit: 100, Remaining: 0, RetryAfter: 2100 * time.Millisecond, Reset: 30 * time.Second, Rate: 100, Window: time.Minute},
			want: http.Header{
				"Retry-After":      {"3"},
				"Ratelimit-Policy": {`"default";q=100;w=60`},
				"Ratelimit":        {`"default";r=0;t=30`},
			},
		},
		{
			name: "rejected, all fields",
			d:    levee.Decision{Limit: 100, Remaining: 0, RetryAfter: 2100 * time.Millisecond, Reset: 30 * time.Second, Rate: 100, Window: time.Minute},
			opts: leveehttp.RateLimitHeaders{Fields: leveehttp.FieldsAll},
			want: http.Header{
				"Retry-After":           {"3"},
				"Ratelimit-Policy":      {`"default";q=100;w=60`},
				"Ratelimit":             {`"default";r=0;t=30`},
				"X-Ratelimit-Limit":     {"100"},
				"X-Ratelimit-Remaining": {"0"},
				"X-Ratelimit-Reset":     {"30"},
			},
		},
		{
			name: "a nanosecond to wait is one second, never zero",
			d:    levee.Decision{Limit: 1, RetryAfter: 1, Reset: 1},
			opts: leveehttp.RateLimitHeaders{Fields: leveehttp.FieldRetryAfter | leveehttp.FieldRateLimit},
			want: http.Header{"Retry-After": {"1"}, "Ratelimit": {`"default";r=0;t=1`}},
		},
		{
			name: "allowed: no Retry-After; q/w is the rate, not the burst",
			d:    levee.Decision{Allowed: true, Limit: 10, Remaining: 9, Reset: 100 * time.Millisecond, Rate: 100, Window: time.Second},
			opts: leveehttp.RateLimitHeaders{Policy: "per-ip", Fields: leveehttp.FieldsIETF},
			want: http.Header{"Ratelimit-Policy": {`"per-ip";q=100;w=1`}, "Ratelimit": {`"per-ip";r=9;t=1`}},
		},
		{
			name: "a window of 1.5s is scaled to whole seconds",
			d:    levee.Decision{Allowed: true, Limit: 3, Remaining: 2, Rate: 2, Window: 1500 * time.Millisecond},
			opts: leveehttp.RateLimitHeaders{Fields: leveehttp.FieldRateLimitPolicy},
			want: http.Header{"Ratelimit-Policy": {`"default";q=4;w=3`}},
		},
		{
			name: "no rate: no policy",
			d:    levee.Decision{Allowed: true, Limit: 3, Remaining: 2},
			opts: leveehttp.RateLimitHeaders{Fields: leveehttp.FieldRateLimitPolicy},
			want: http.Header{},
		},
		{
			name: "never: no Retry-After",
			d:    levee.Decision{Limit: 10, RetryAfter: levee.Never, Window: time.Second},
			opts: leveehttp.RateLimitHeaders{Fields: leveehttp.FieldRetryAfter | leveehttp.FieldXRateLimit},
			want: http.Header{"X-Ratelimit-Limit": {"10"}, "X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"0"}},
		},
		{
			name: "no limit: nothing",
			d:    levee.Decision{Allowed: true},
			want: http.Header{},
		},
		{
			name: "policy name escaped",
			d:    levee.Decision{Allowed: true, Limit: 1, Remaining: 1, Rate: 1, Window: time.Second},
			opts: leveehttp.RateLimitHeaders{Policy: "a\"b\\c\né", Fields: leveehttp.FieldRateLimitPolicy},
			want: http.Header{"Ratelimit-Policy": {`"a\"b\\c___";q=1;w=1`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			leveehttp.WriteRateLimitHeaders(h, tt.d, tt.opts)
			if !reflect.DeepEqual(h, tt.want) {
				t.Errorf("WriteRateLimitHeaders(%+v, %+v) = %v, want %v", tt.d, tt.opts, h, tt.want)
			}
			// What is written parses back.
			if v := h.Get("RateLimit"); v != "" {
				if items, err := leveehttp.ParseRateLimit(v, 0); err != nil || len(items) != 1 {
					t.Errorf("ParseRateLimit(%q) = %v, %v, want one item", v, items, err)
				}
			}
			if v := h.Get("RateLimit-Policy"); v != "" {
				if items, err := leveehttp.ParseRateLimitPolicy(v); err != nil || len(items) != 1 {
					t.Errorf("ParseRateLimitPolicy(%q) = %v, %v, want one item", v, items, err)
				}
			}
		})
	}
}

// TestWriteRateLimitHeadersAllocs pins the cost of the fields: one string
// holding every value and one array of the fields' value slices.
func TestWriteRateLimitHeadersAllocs(t *testing.T) {
	d := levee.Decision{Limit: 100, Remaining: 7, RetryAfter: time.Second, Reset: 30 * time.Second, Rate: 100, Window: time.Minute}
	h := http.Header{}
	write := func() {
		clear(h) // a new response's header: nothing stacked
		leveehttp.WriteRateLimitHeaders(h, d, leveehttp.RateLimitHeaders{Policy: "api", Fields: leveehttp.FieldsAll})
	}
	if a := testing.AllocsPerRun(100, write); a > 2 {
		t.Errorf("WriteRateLimitHeaders, all fields: AllocsPerRun = %v, want <= 2", a)
	}
}
