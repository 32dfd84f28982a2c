package leveehttp_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/levee-go/levee/leveehttp"
)

var keyCases = []struct {
	in      string
	want    string
	wantErr string
}{
	{`"8e03978e-40d5-43e8-bc93-6894a57f9324"`, "8e03978e-40d5-43e8-bc93-6894a57f9324", ""},
	{"8e03978e-40d5-43e8-bc93-6894a57f9324", "8e03978e-40d5-43e8-bc93-6894a57f9324", ""},
	{`  "k"	`, "k", ""},
	{`"a \"quoted\" \\ key"`, `a "quoted" \ key`, ""},
	{`"spaces are fine"`, "spaces are fine", ""},
	{"", "", "empty"},
	{`""`, "", "empty"},
	{`"abc`, "", "no closing quote"},
	{`"abc"def`, "", "after the closing quote"},
	{`"a\nb"`, "", "bad escape"},
	{`"a\`, "", "bad escape"},
	{"\"a\x01\"", "", "not allowed in a string"},
	{"\"caf\xc3\xa9\"", "", "not allowed in a string"},
	{"a b", "", "not allowed in a bare key"},
	{"a,b", "", "not allowed in a bare key"},
	{`a"b`, "", "not allowed in a bare key"},
	{strings.Repeat("x", 255), strings.Repeat("x", 255), ""},
	{strings.Repeat("x", 256), "", "more than 255"},
}

func TestParseIdempotencyKey(t *testing.T) {
	for _, tc := range keyCases {
		got, err := leveehttp.ParseIdempotencyKey(tc.in, 0)
		if tc.wantErr != "" {
			if err == nil || !errors.Is(err, leveehttp.ErrIdempotencyKey) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseIdempotencyKey(%q) = %q, %v; want an ErrIdempotencyKey containing %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseIdempotencyKey(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := leveehttp.ParseIdempotencyKey("abcd", 3); err == nil {
		t.Errorf("ParseIdempotencyKey(abcd, 3) accepted a key over the bound")
	}
}

func TestParseIdempotencyKeyAllocations(t *testing.T) {
	for _, in := range []string{`"8e03978e-40d5-43e8-bc93-6894a57f9324"`, "8e03978e-40d5"} {
		if n := testing.AllocsPerRun(100, func() { _, _ = leveehttp.ParseIdempotencyKey(in, 0) }); n != 0 {
			t.Errorf("ParseIdempotencyKey(%q) allocates %v times, want 0", in, n)
		}
	}
}

// quote writes key as a Structured Field string.
func quote(key string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(key) + `"`
}

func FuzzParseIdempotencyKey(f *testing.F) {
	for _, tc := range keyCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		key, err := leveehttp.ParseIdempotencyKey(in, 0)
		if err != nil {
			if !errors.Is(err, leveehttp.ErrIdempotencyKey) {
				t.Fatalf("ParseIdempotencyKey(%q) error %v does not match ErrIdempotencyKey", in, err)
			}
			return
		}
		if key == "" || len(key) > leveehttp.DefaultMaxKeyLength {
			t.Fatalf("ParseIdempotencyKey(%q) = %q: length %d out of 1..255", in, key, len(key))
		}
		for i := 0; i < len(key); i++ {
			if key[i] < ' ' || key[i] >= 0x7f {
				t.Fatalf("ParseIdempotencyKey(%q) = %q holds byte %#x", in, key, key[i])
			}
		}
		// The key written as a string reads back as itself.
		if again, err := leveehttp.ParseIdempotencyKey(quote(key), 0); err != nil || again != key {
			t.Fatalf("round trip of %q through %s = %q, %v", key, quote(key), again, err)
		}
	})
}

func BenchmarkParseIdempotencyKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = leveehttp.ParseIdempotencyKey(`"8e03978e-40d5-43e8-bc93-6894a57f9324"`, 0)
	}
}
