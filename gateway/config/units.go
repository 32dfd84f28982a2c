package config

import (
	"errors"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Size is a number of bytes, written as an integer with an optional unit:
// B, KB (1000), MB, GB, KiB (1024), MiB, GiB. "8MiB" is 8388608 bytes; a bare
// number is bytes. It is never negative.
type Size int64

// Percent is a percentage from 0 to 100, written with a percent sign:
// "12.5%". Percent(12.5) is 12.5%, so the fraction is p/100.
type Percent float64

// Fraction returns p as a fraction: 0.125 for 12.5%.
func (p Percent) Fraction() float64 { return float64(p) / 100 }

// Rate is a count of events per period, written "COUNT/PERIOD": "100/s",
// "6000/m", "10/1s", "5/250ms". PERIOD is a duration or a bare unit (ms, s,
// m, h), which means one of it. Count is positive and Per is positive in a
// valid Rate; the zero Rate means "not set".
type Rate struct {
	// Count is the number of events allowed per Per.
	Count int64
	// Per is the period over which Count events are allowed.
	Per time.Duration
}

// String formats r as it is written in a configuration file.
func (r Rate) String() string {
	return strconv.FormatInt(r.Count, 10) + "/" + formatDuration(r.Per)
}

// PerSecond returns the rate in events per second.
func (r Rate) PerSecond() float64 {
	if r.Per <= 0 {
		return 0
	}
	return float64(r.Count) / r.Per.Seconds()
}

// ParseDuration parses a duration as [time.ParseDuration] does, also accepting
// a "d" unit of 24 hours ("28d", "1d12h"). Negative durations are refused.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New(`must be a duration such as "250ms" or "30s"`)
	}
	if strings.HasPrefix(s, "-") {
		return 0, errors.New("must not be negative")
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseUint(s[:i], 10, 16)
		if err != nil || i == 0 {
			return 0, errors.New(`must be a duration such as "250ms", "30s" or "28d"`)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errors.New(`must be a duration such as "250ms", "30s" or "28d"`)
	}
	if d > math.MaxInt64-days {
		return 0, errors.New("is too long")
	}
	return days + d, nil
}

// formatDuration writes d the way ParseDuration reads it, dropping the zero
// minutes and seconds [time.Duration.String] adds ("1m" rather than "1m0s").
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// ParseRate parses a [Rate] such as "100/s" or "10/1s".
func ParseRate(s string) (Rate, error) {
	bad := errors.New(`must be a rate such as "100/s", "6000/m" or "10/250ms"`)
	count, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, bad
	}
	n, err := strconv.ParseInt(strings.TrimSpace(count), 10, 64)
	if err != nil {
		return Rate{}, bad
	}
	if n <= 0 {
		return Rate{}, errors.New("must allow at least one event per period")
	}
	per = strings.TrimSpace(per)
	switch per {
	case "ms", "s", "m", "h", "d":
		per = "1" + per
	}
	d, err := ParseDuration(per)
	if err != nil {
		return Rate{}, bad
	}
	if d <= 0 {
		return Rate{}, errors.New("must have a positive period")
	}
	return Rate{Count: n, Per: d}, nil
}

// sizeUnits lists the units [ParseSize] accepts, longest first so that "KiB"
// is tried before "B".
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
	{"B", 1},
}

// ParseSize parses a [Size] such as "8MiB", "512KB" or "1024".
func ParseSize(s string) (Size, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if strings.HasPrefix(s, "-") {
			return 0, errors.New("must not be negative")
		}
		return 0, errors.New(`must be a size such as "8MiB", "512KB" or "1024"`)
	}
	if n < 0 {
		return 0, errors.New("must not be negative")
	}
	if n > math.MaxInt64/mult {
		return 0, errors.New("is too large")
	}
	return Size(n * mult), nil
}

// ParsePercent parses a [Percent] such as "12.5%".
func ParsePercent(s string) (Percent, error) {
	s = strings.TrimSpace(s)
	num, ok := strings.CutSuffix(s, "%")
	if !ok {
		return 0, errors.New(`must be a percentage such as "12.5%"`)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(f) {
		return 0, errors.New(`must be a percentage such as "12.5%"`)
	}
	if f < 0 || f > 100 {
		return 0, errors.New("must be between 0% and 100%")
	}
	return Percent(f), nil
}

// ParseTrustedProxy parses an entry of a listener's trusted_proxies: an IP
// address ("10.0.0.7", which is the prefix of that one address) or a CIDR
// prefix ("10.0.0.0/8", "fd00::/8"). IPv4-mapped IPv6 addresses are
// unmapped, so that "::ffff:10.0.0.7" and "10.0.0.7" are one address.
func ParseTrustedProxy(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
