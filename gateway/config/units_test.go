package config_test

import (
	"testing"
	"time"

	"github.com/levee-go/levee/gateway/config"
)

var durationCases = []struct {
	in   string
	want time.Duration
	ok   bool
}{
	{"250ms", 250 * time.Millisecond, true},
	{"30s", 30 * time.Second, true},
	{"1h30m", 90 * time.Minute, true},
	{"0", 0, true},
	{"28d", 28 * 24 * time.Hour, true},
	{"1d12h", 36 * time.Hour, true},
	{"", 0, false},
	{"30", 0, false},
	{"-1s", 0, false},
	{"d", 0, false},
	{"1.5d", 0, false},
	{"99999d", 0, false},
	{"100000h", 100000 * time.Hour, true},
}

func TestParseDuration(t *testing.T) {
	for _, tt := range durationCases {
		got, err := config.ParseDuration(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseDuration(%q) = %v, %v, want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

var rateCases = []struct {
	in   string
	want config.Rate
	ok   bool
}{
	{"100/s", config.Rate{Count: 100, Per: time.Second}, true},
	{"6000/m", config.Rate{Count: 6000, Per: time.Minute}, true},
	{"10/1s", config.Rate{Count: 10, Per: time.Second}, true},
	{"5/250ms", config.Rate{Count: 5, Per: 250 * time.Millisecond}, true},
	{" 7 / h ", config.Rate{Count: 7, Per: time.Hour}, true},
	{"1000/d", config.Rate{Count: 1000, Per: 24 * time.Hour}, true},
	{"0/s", config.Rate{}, false},
	{"-1/s", config.Rate{}, false},
	{"10/0s", config.Rate{}, false},
	{"10", config.Rate{}, false},
	{"10/x", config.Rate{}, false},
	{"1.5/s", config.Rate{}, false},
}

func TestParseRate(t *testing.T) {
	for _, tt := range rateCases {
		got, err := config.ParseRate(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseRate(%q) = %+v, %v, want %+v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if got := (config.Rate{Count: 6000, Per: time.Minute}).String(); got != "6000/1m" {
		t.Errorf("Rate{6000, 1m}.String() = %q, want 6000/1m", got)
	}
	if got := (config.Rate{Count: 6000, Per: time.Minute}).PerSecond(); got != 100 {
		t.Errorf("Rate{6000, 1m}.PerSecond() = %v, want 100", got)
	}
}

var sizeCases = []struct {
	in   string
	want config.Size
	ok   bool
}{
	{"8MiB", 8 << 20, true},
	{"512KB", 512000, true},
	{"1024", 1024, true},
	{"1 GiB", 1 << 30, true},
	{"10B", 10, true},
	{"2GB", 2e9, true},
	{"-1", 0, false},
	{"1.5MiB", 0, false},
	{"8 bytes", 0, false},
	{"9999999999GiB", 0, false},
	{"MiB", 0, false},
}

func TestParseSize(t *testing.T) {
	for _, tt := range sizeCases {
		got, err := config.ParseSize(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseSize(%q) = %d, %v, want %d (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

var percentCases = []struct {
	in   string
	want config.Percent
	ok   bool
}{
	{"12.5%", 12.5, true},
	{"0%", 0, true},
	{"100%", 100, true},
	{" 50 %", 50, true},
	{"0.5", 0, false},
	{"101%", 0, false},
	{"-1%", 0, false},
	{"NaN%", 0, false},
	{"%", 0, false},
}

func TestParsePercent(t *testing.T) {
	for _, tt := range percentCases {
		got, err := config.ParsePercent(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParsePercent(%q) = %v, %v, want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if got := config.Percent(12.5).Fraction(); got != 0.125 {
		t.Errorf("Percent(12.5).Fraction() = %v, want 0.125", got)
	}
}

// FuzzUnits checks that the unit parsers never panic, and never accept a
// value out of their documented range.
func FuzzUnits(f *testing.F) {
	for _, c := range durationCases {
		f.Add(c.in)
	}
	for _, c := range rateCases {
		f.Add(c.in)
	}
	for _, c := range sizeCases {
		f.Add(c.in)
	}
	for _, c := range percentCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := config.ParseDuration(s); err == nil && d < 0 {
			t.Errorf("ParseDuration(%q) = %v, want no negative duration", s, d)
		}
		if r, err := config.ParseRate(s); err == nil && (r.Count <= 0 || r.Per <= 0) {
			t.Errorf("ParseRate(%q) = %+v, want a positive count and period", s, r)
		}
		if n, err := config.ParseSize(s); err == nil && n < 0 {
			t.Errorf("ParseSize(%q) = %d, want no negative size", s, n)
		}
		if p, err := config.ParsePercent(s); err == nil && (p < 0 || p > 100) {
			t.Errorf("ParsePercent(%q) = %v, want 0 to 100", s, p)
		}
	})
}
