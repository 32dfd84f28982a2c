package leveehttp

import (
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// RateLimitPolicyItem is one quota policy read from a RateLimit-Policy
// field (draft-ietf-httpapi-ratelimit-headers-10), such as
// "default";q=100;w=60.
type RateLimitPolicyItem struct {
	// Name is the policy's name (the item's string).
	Name string
	// Quota is the q parameter: the quota units allowed per window.
	Quota int64
	// Window is the w parameter in seconds; zero when absent.
	Window time.Duration
	// QuotaUnit is the qu parameter ("requests", "content-bytes",
	// "concurrent-requests"); empty when absent, which means requests.
	QuotaUnit string
	// PartitionKey is the pk parameter; nil when absent.
	PartitionKey []byte
}

// RateLimitItem is the state of one quota policy read from a RateLimit
// field, such as "default";r=42;t=30.
type RateLimitItem struct {
	// Name is the policy's name.
	Name string
	// Remaining is the r parameter: quota units left.
	Remaining int64
	// Reset is the t parameter, capped; zero when absent (see HasReset).
	Reset time.Duration
	// HasReset reports whether t was present.
	HasReset bool
	// PartitionKey is the pk parameter; nil when absent.
	PartitionKey []byte
}

// ParseRateLimitPolicy reads a RateLimit-Policy field value: a
// structured-field List (RFC 9651) of strings with parameters. An error
// means the whole field is malformed and must be ignored. Well-formed
// members that break the draft's rules (not a string, q missing or negative,
// w not positive, a parameter of the wrong type) are skipped, and unknown
// parameters ignored, as the draft asks.
func ParseRateLimitPolicy(v string) ([]RateLimitPolicyItem, error) {
	list, err := parseList(v)
	if err != nil {
		return nil, err
	}
	var out []RateLimitPolicyItem
members:
	for _, m := range list {
		name, ok := m.value.(sfString)
		if !ok || m.inner {
			continue
		}
		it := RateLimitPolicyItem{Name: string(name)}
		seenQ := false
		for _, p := range m.params {
			switch p.key {
			case "q":
				n, ok := p.value.(int64)
				if !ok || n < 0 {
					continue members
				}
				it.Quota, seenQ = n, true
			case "w":
				n, ok := p.value.(int64)
				if !ok || n <= 0 {
					continue members
				}
				it.Window = secondsDuration(n, 0)
			case "qu":
				s, ok := p.value.(sfString)
				if !ok {
					continue members
				}
				it.QuotaUnit = string(s)
			case "pk":
				b, ok := p.value.([]byte)
				if !ok {
					continue members
				}
				it.PartitionKey = b
			}
		}
		if seenQ {
			out = append(out, it)
		}
	}
	return out, nil
}

// ParseRateLimit reads a RateLimit field value, like
// [ParseRateLimitPolicy]; members without a valid r are skipped. Reset
// times are capped at limit (zero or negative means [DefaultMaxRetryAfter]),
// so a client pausing until a reset never trusts the server blindly.
func ParseRateLimit(v string, limit time.Duration) ([]RateLimitItem, error) {
	if limit <= 0 {
		limit = DefaultMaxRetryAfter
	}
	list, err := parseList(v)
	if err != nil {
		return nil, err
	}
	var out []RateLimitItem
members:
	for _, m := range list {
		name, ok := m.value.(sfString)
		if !ok || m.inner {
			continue
		}
		it := RateLimitItem{Name: string(name)}
		seenR := false
		for _, p := range m.params {
			switch p.key {
			case "r":
				n, ok := p.value.(int64)
				if !ok || n < 0 {
					continue members
				}
				it.Remaining, seenR = n, true
			case "t":
				n, ok := p.value.(int64)
				if !ok || n < 0 {
					continue members
				}
				it.Reset, it.HasReset = secondsDuration(n, limit), true
			case "pk":
				b, ok := p.value.([]byte)
				if !ok {
					continue members
				}
				it.PartitionKey = b
			}
		}
		if seenR {
			out = append(out, it)
		}
	}
	return out, nil
}

// secondsDuration converts whole seconds to a Duration, capped at limit
// when limit > 0 and at the largest Duration otherwise.
func secondsDuration(n int64, limit time.Duration) time.Duration {
	maxSecs := int64(1<<63-1) / int64(time.Second)
	if limit > 0 {
		maxSecs = int64(limit / time.Second)
		if n >= maxSecs {
			return limit
		}
	}
	if n > maxSecs {
		n = maxSecs
	}
	return time.Duration(n) * time.Second
}

// The structured-field parser below follows RFC 9651 §4.2 for Lists, with
// the bare item types the rate-limit fields use (Integer, Decimal, String,
// Token, Byte Sequence, Boolean). Dates and Display Strings, which the
// fields never carry, make the field malformed.

type sfString string // a String, kept apart from a Token
type sfToken string

type sfParam struct {
	key   string
	value any // int64, float64, sfString, sfToken, []byte, bool
}

type sfMember struct {
	inner  bool // an Inner List (its items are not kept)
	value  any
	params []sfParam
}

var errSyntax = errors.New("leveehttp: malformed structured field")

type sfParser struct {
	s string
	i int
}

func (p *sfParser) errorf(what string) error {
	return fmt.Errorf("%w: %s at offset %d", errSyntax, what, p.i)
}

func (p *sfParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *sfParser) eof() bool { return p.i >= len(p.s) }

func (p *sfParser) skipSP() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// parseList parses a whole List field value.
func parseList(s string) ([]sfMember, error) {
	p := &sfParser{s: s}
	p.skipSP()
	var out []sfMember
	for !p.eof() {
		m, err := p.member()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
		p.skipOWS()
		if p.eof() {
			return out, nil
		}
		if p.peek() != ',' {
			return nil, p.errorf("expected ','")
		}
		p.i++
		p.skipOWS()
		if p.eof() {
			return nil, p.errorf("trailing ','")
		}
	}
	return out, nil
}

func (p *sfParser) member() (sfMember, error) {
	if p.peek() == '(' {
		p.i++
		for {
			p.skipSP()
			if p.peek() == ')' {
				p.i++
				break
			}
			if p.eof() {
				return sfMember{}, p.errorf("unterminated inner list")
			}
			if _, err := p.bareItem(); err != nil {
				return sfMember{}, err
			}
			if _, err := p.params(); err != nil {
				return sfMember{}, err
			}
			if c := p.peek(); c != ' ' && c != ')' {
				return sfMember{}, p.errorf("expected ' ' or ')' in inner list")
			}
		}
		params, err := p.params()
		return sfMember{inner: true, params: params}, err
	}
	v, err := p.bareItem()
	if err != nil {
		return sfMember{}, err
	}
	params, err := p.params()
	return sfMember{value: v, params: params}, err
}

func (p *sfParser) params() ([]sfParam, error) {
	var out []sfParam
	for p.peek() == ';' {
		p.i++
		p.skipSP()
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		var v any = true
		if p.peek() == '=' {
			p.i++
			if v, err = p.bareItem(); err != nil {
				return nil, err
			}
		}
		// A repeated key overwrites the earlier value in place.
		replaced := false
		for j := range out {
			if out[j].key == key {
				out[j].value, replaced = v, true
			}
		}
		if !replaced {
			out = append(out, sfParam{key, v})
		}
	}
	return out, nil
}

func (p *sfParser) key() (string, error) {
	start := p.i
	if c := p.peek(); !(c >= 'a' && c <= 'z' || c == '*') {
		return "", p.errorf("bad key")
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i], nil
}

func (p *sfParser) bareItem() (any, error) {
	c := p.peek()
	switch {
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == '"':
		return p.str()
	case c == ':':
		return p.bytes()
	case c == '?':
		p.i++
		switch p.peek() {
		case '0':
			p.i++
			return false, nil
		case '1':
			p.i++
			return true, nil
		}
		return nil, p.errorf("bad boolean")
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '*':
		return p.token(), nil
	}
	return nil, p.errorf("unexpected character")
}

func (p *sfParser) number() (any, error) {
	neg := false
	if p.peek() == '-' {
		neg = true
		p.i++
	}
	if c := p.peek(); c < '0' || c > '9' {
		return nil, p.errorf("bad number")
	}
	var n int64
	digits, frac, fracDigits, dot := 0, int64(0), 0, false
	for !p.eof() {
		c := p.s[p.i]
		switch {
		case c >= '0' && c <= '9':
			if dot {
				frac = frac*10 + int64(c-'0')
				fracDigits++
				if fracDigits > 3 {
					return nil, p.errorf("decimal with more than 3 fractional digits")
				}
			} else {
				n = n*10 + int64(c-'0')
				digits++
				if digits > 15 {
					return nil, p.errorf("integer with more than 15 digits")
				}
			}
			p.i++
			continue
		case c == '.' && !dot:
			if digits > 12 {
				return nil, p.errorf("decimal with more than 12 integer digits")
			}
			dot = true
			p.i++
			continue
		}
		break
	}
	if neg {
		n = -n
	}
	if !dot {
		return n, nil
	}
	if fracDigits == 0 {
		return nil, p.errorf("decimal ending in '.'")
	}
	f := float64(n)
	fr := float64(frac)
	for range fracDigits {
		fr /= 10
	}
	if neg {
		return f - fr, nil
	}
	return f + fr, nil
}

func (p *sfParser) str() (any, error) {
	p.i++ // opening quote
	var b []byte
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.eof() {
				return nil, p.errorf("unterminated escape")
			}
			e := p.s[p.i]
			p.i++
			if e != '"' && e != '\\' {
				return nil, p.errorf("bad escape")
			}
			b = append(b, e)
		case c == '"':
			return sfString(b), nil
		case c < 0x20 || c > 0x7e:
			return nil, p.errorf("bad character in string")
		default:
			b = append(b, c)
		}
	}
	return nil, p.errorf("unterminated string")
}

func (p *sfParser) token() sfToken {
	start := p.i
	p.i++
	for p.i < len(p.s) {
		c := p.s[p.i]
		// tchar, ':' and '/'
		if c > 0x20 && c < 0x7f && !isDelimiter(c) || c == ':' || c == '/' {
			p.i++
			continue
		}
		break
	}
	return sfToken(p.s[start:p.i])
}

func isDelimiter(c byte) bool {
	switch c {
	case '"', '(', ')', ',', '/', ':', ';', '<', '=', '>', '?', '@', '[', '\\', ']', '{', '}':
		return true
	}
	return false
}

func (p *sfParser) bytes() (any, error) {
	p.i++ // opening colon
	start := p.i
	for !p.eof() && p.s[p.i] != ':' {
		c := p.s[p.i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return nil, p.errorf("bad byte sequence")
		}
		p.i++
	}
	if p.eof() {
		return nil, p.errorf("unterminated byte sequence")
	}
	enc := p.s[start:p.i]
	p.i++
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		// RFC 9651 allows parsers to accept unpadded input.
		if b, err = base64.RawStdEncoding.DecodeString(enc); err != nil {
			return nil, p.errorf("bad base64")
		}
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}
