package leveehttp_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/leveehttp"
)

// BenchmarkWriteRateLimitHeaders: the header values are new strings per
// response (one allocation per field value and its slice).
func BenchmarkWriteRateLimitHeaders(b *testing.B) {
	d := levee.Decision{Limit: 100, Remaining: 0, RetryAfter: time.Second, Reset: 30 * time.Second, Rate: 100, Window: time.Minute}
	for _, tt := range []struct {
		name   string
		fields leveehttp.HeaderFields
	}{{"all", leveehttp.FieldsAll}, {"ietf", leveehttp.FieldsIETF}, {"retry-after", leveehttp.FieldRetryAfter}} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			h := http.Header{}
			for b.Loop() {
				clear(h)
				leveehttp.WriteRateLimitHeaders(h, d, leveehttp.RateLimitHeaders{Fields: tt.fields})
			}
		})
	}
}

func BenchmarkParseRateLimit(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		leveehttp.ParseRateLimit(`"default";r=42;t=30, "daily";r=900;t=3600`, 0)
	}
}
