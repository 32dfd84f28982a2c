package leveehttp_test

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/levee-go/levee/leveehttp"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

var retryAfterCases = []struct {
	name  string
	v     string
	limit time.Duration
	want  time.Duration
	ok    bool
}{
	{"seconds", "120", 0, 2 * time.Minute, true},
	{"zero", "0", 0, 0, true},
	{"spaces trimmed", " 7 ", 0, 7 * time.Second, true},
	{"capped at the default", "3600", 0, leveehttp.DefaultMaxRetryAfter, true},
	{"capped at the given limit", "60", 10 * time.Second, 10 * time.Second, true},
	{"huge number capped, no overflow", "99999999999999999999999999", 0, leveehttp.DefaultMaxRetryAfter, true},
	{"http-date", "Thu, 01 Jan 2026 12:00:30 GMT", 0, 30 * time.Second, true},
	{"rfc850 date", "Thursday, 01-Jan-26 12:01:00 GMT", 0, time.Minute, true},
	{"asctime date", "Thu Jan  1 12:00:10 2026", 0, 10 * time.Second, true},
	{"date in the past", "Wed, 31 Dec 2025 23:00:00 GMT", 0, 0, true},
	{"date far ahead capped", "Fri, 01 Jan 2027 00:00:00 GMT", time.Minute, time.Minute, true},
	{"negative", "-5", 0, 0, false},
	{"plus sign", "+5", 0, 0, false},
	{"fraction", "1.5", 0, 0, false},
	{"garbage", "soon", 0, 0, false},
	{"empty", "", 0, 0, false},
	{"bad date", "Thu, 32 Jan 2026 12:00:00 GMT", 0, 0, false},
}

func TestParseRetryAfter(t *testing.T) {
	for _, tt := range retryAfterCases {
		got, ok := leveehttp.ParseRetryAfter(tt.v, now, tt.limit)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: ParseRetryAfter(%q, now, %v) = %v, %v, want %v, %v", tt.name, tt.v, tt.limit, got, ok, tt.want, tt.ok)
		}
	}
	h := http.Header{"Retry-After": {"5", "9"}}
	if d, ok := leveehttp.RetryAfterHeader(h, now, 0); d != 5*time.Second || !ok {
		t.Errorf("RetryAfterHeader(5, 9) = %v, %v, want 5s, true", d, ok)
	}
	if _, ok := leveehttp.RetryAfterHeader(http.Header{}, now, 0); ok {
		t.Errorf("RetryAfterHeader(none) ok = true, want false")
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, tt := range retryAfterCases {
		f.Add(tt.v, int64(tt.limit))
	}
	f.Fuzz(func(t *testing.T, v string, limit int64) {
		d, ok := leveehttp.ParseRetryAfter(v, now, time.Duration(limit))
		max := time.Duration(limit)
		if max <= 0 {
			max = leveehttp.DefaultMaxRetryAfter
		}
		if d < 0 || d > max {
			t.Fatalf("ParseRetryAfter(%q, now, %v) = %v, want within [0, %v]", v, time.Duration(limit), d, max)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, false, want 0 when not ok", v, d)
		}
	})
}

var rateLimitCases = []struct {
	name string
	v    string
	want []leveehttp.RateLimitItem
	err  bool
}{
	{"one", `"default";r=42;t=30`, []leveehttp.RateLimitItem{{Name: "default", Remaining: 42, Reset: 30 * time.Second, HasReset: true}}, false},
	{"two with spaces", `"burst";r=0;t=1 ,  "day";r=900;t=3600`, []leveehttp.RateLimitItem{
		{Name: "burst", Remaining: 0, Reset: time.Second, HasReset: true},
		{Name: "day", Remaining: 900, Reset: leveehttp.DefaultMaxRetryAfter, HasReset: true}}, false},
	{"no t", `"p";r=1`, []leveehttp.RateLimitItem{{Name: "p", Remaining: 1}}, false},
	{"partition key", `"p";r=1;pk=:aGVsbG8=:`, []leveehttp.RateLimitItem{{Name: "p", Remaining: 1, PartitionKey: []byte("hello")}}, false},
	{"unknown params ignored", `"p";r=1;x="y";z`, []leveehttp.RateLimitItem{{Name: "p", Remaining: 1}}, false},
	{"missing r skipped", `"p";t=1, "q";r=2`, []leveehttp.RateLimitItem{{Name: "q", Remaining: 2}}, false},
	{"negative r skipped", `"p";r=-1`, nil, false},
	{"r of wrong type skipped", `"p";r="1"`, nil, false},
	{"decimal r skipped", `"p";r=1.5`, nil, false},
	{"token name skipped", `p;r=1`, nil, false},
	{"inner list skipped", `("a" "b");r=1, "c";r=2`, []leveehttp.RateLimitItem{{Name: "c", Remaining: 2}}, false},
	{"empty", ``, nil, false},
	{"trailing comma", `"p";r=1,`, nil, true},
	{"unterminated string", `"p;r=1`, nil, true},
	{"bad escape", `"a\x";r=1`, nil, true},
	{"too many digits", `"p";r=1234567890123456`, nil, true},
	{"garbage", `{}`, nil, true},
	{"uppercase key", `"p";R=1`, nil, true},
}

func TestParseRateLimit(t *testing.T) {
	for _, tt := range rateLimitCases {
		got, err := leveehttp.ParseRateLimit(tt.v, 0)
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: ParseRateLimit(%q) = %+v, %v, want %+v, error %v", tt.name, tt.v, got, err, tt.want, tt.err)
		}
	}
}

var policyCases = []struct {
	name string
	v    string
	want []leveehttp.RateLimitPolicyItem
	err  bool
}{
	{"one", `"default";q=100;w=60`, []leveehttp.RateLimitPolicyItem{{Name: "default", Quota: 100, Window: time.Minute}}, false},
	{"unit and key", `"bytes";q=1000;qu="content-bytes";pk=:YQ==:`, []leveehttp.RateLimitPolicyItem{{Name: "bytes", Quota: 1000, QuotaUnit: "content-bytes", PartitionKey: []byte("a")}}, false},
	{"missing q skipped", `"a";w=1, "b";q=0`, []leveehttp.RateLimitPolicyItem{{Name: "b"}}, false},
	{"zero window skipped", `"a";q=1;w=0`, nil, false},
	{"booleans and decimals parse", `"a";q=1;x=?1;y=-2.5;z=tok/en:1`, []leveehttp.RateLimitPolicyItem{{Name: "a", Quota: 1}}, false},
	{"bad boolean", `"a";q=1;x=?2`, nil, true},
	{"bad base64", `"a";q=1;pk=:!!:`, nil, true},
}

func TestParseRateLimitPolicy(t *testing.T) {
	for _, tt := range policyCases {
		got, err := leveehttp.ParseRateLimitPolicy(tt.v)
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: ParseRateLimitPolicy(%q) = %+v, %v, want %+v, error %v", tt.name, tt.v, got, err, tt.want, tt.err)
		}
	}
}

func FuzzParseRateLimit(f *testing.F) {
	for _, tt := range rateLimitCases {
		f.Add(tt.v)
	}
	for _, tt := range policyCases {
		f.Add(tt.v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		items, err := leveehttp.ParseRateLimit(v, time.Minute)
		if err != nil && items != nil {
			t.Fatalf("ParseRateLimit(%q) returned items with an error", v)
		}
		for _, it := range items {
			if it.Remaining < 0 || it.Reset < 0 || it.Reset > time.Minute {
				t.Fatalf("ParseRateLimit(%q) = %+v, want r >= 0 and 0 <= t <= 1m", v, it)
			}
		}
		pol, err := leveehttp.ParseRateLimitPolicy(v)
		if err != nil && pol != nil {
			t.Fatalf("ParseRateLimitPolicy(%q) returned items with an error", v)
		}
		for _, it := range pol {
			if it.Quota < 0 || it.Window < 0 {
				t.Fatalf("ParseRateLimitPolicy(%q) = %+v, want q >= 0 and w >= 0", v, it)
			}
		}
		// Whatever parses as a string round-trips through the writer.
		for _, it := range items {
			if strings.ContainsAny(it.Name, "\x00\n") {
				t.Fatalf("ParseRateLimit(%q) name %q holds a control character", v, it.Name)
			}
		}
	})
}
