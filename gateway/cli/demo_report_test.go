package cli

import (
	"strings"
	"testing"
)

func TestLabelValue(t *testing.T) {
	for _, c := range []struct{ series, key, want string }{
		{`policy="breaker",name="recommendations",state="open"`, "state", "open"},
		{`name="orders",policy="adaptive"`, "name", "orders"},
		{`{name="a",subname="b"`, "name", "a"},
		{`subname="b",name="a"`, "name", "a"},
		{`subname="b"`, "name", ""},
		{`name="unterminated`, "name", "unterminated"},
		{``, "name", ""},
	} {
		if got := labelValue(c.series, c.key); got != c.want {
			t.Errorf("labelValue(%q, %q) = %q, want %q", c.series, c.key, got, c.want)
		}
	}
}

// FuzzLabelValue checks that any exposition text is read without a panic,
// and that a label written as Prometheus writes it is read back.
func FuzzLabelValue(f *testing.F) {
	f.Add(`policy="breaker",name="recommendations",state="open"`, "state")
	f.Add(`subname="b",name="a"`, "name")
	f.Add(`name="`, "name")
	f.Fuzz(func(t *testing.T, series, key string) {
		_ = labelValue(series, key)
		if key == "" || strings.ContainsAny(key, `",={}`) || strings.Contains(series, `"`) {
			return
		}
		v := strings.ReplaceAll(series, `\`, "")
		// A label whose name ends with key comes first: it must be skipped.
		if got := labelValue(`sub`+key+`="1",`+key+`="`+v+`"`, key); got != v {
			t.Errorf("labelValue(…%s=%q) = %q, want %q", key, v, got, v)
		}
	})
}
