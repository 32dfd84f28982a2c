package leveehttp_test

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/levee-go/levee/leveehttp"
	"github.com/levee-go/levee/ratelimit"
)

// TestRateLimitPolicyRate is the property that RateLimit-Policy advertises
// the configured rate: for random rates (events per period down to the
// nanosecond) and bursts, a GCRA's decision written by
// WriteRateLimitHeaders and read back by a strict RFC 9651 parser gives
// q/w equal to Events/Per exactly. The field may be left out only when no
// pair of 15-digit integers has that ratio.
func TestRateLimitPolicyRate(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 4))
	units := []time.Duration{time.Nanosecond, time.Microsecond, time.Millisecond, 100 * time.Millisecond, time.Second, time.Minute}
	fixed := []struct {
		rate  ratelimit.Rate
		burst int
	}{
		{ratelimit.PerSecond(100), 10}, // was q=10;w=1
		{ratelimit.PerSecond(2), 3},    // was q=3;w=2
		{ratelimit.PerMinute(60), 0},
		{ratelimit.Every(1500 * time.Millisecond), 1},
		{ratelimit.Rate{Events: 7, Per: 333 * time.Millisecond}, 50},
		{ratelimit.Rate{Events: 1, Per: time.Nanosecond}, 1},
	}
	omitted := 0
	const cases = 20000
	for i := range cases {
		var r ratelimit.Rate
		var burst int
		if i < len(fixed) {
			r, burst = fixed[i].rate, fixed[i].burst
		} else {
			unit := units[rng.IntN(len(units))]
			r = ratelimit.Rate{Events: 1 + rng.IntN(1+rng.IntN(100000)), Per: unit * time.Duration(1+rng.IntN(5000))}
			burst = rng.IntN(1 + rng.IntN(10000))
		}
		g, err := ratelimit.NewGCRA(ratelimit.Config{Rate: r, Burst: burst})
		if err != nil {
			continue // faster than one event a nanosecond, or a span too long
		}
		d := g.DecideAt(0)
		h := http.Header{}
		leveehttp.WriteRateLimitHeaders(h, d, leveehttp.RateLimitHeaders{Fields: leveehttp.FieldsIETF})
		vals := h.Values("RateLimit-Policy")
		if len(vals) == 0 {
			if exactPolicyExists(r) {
				t.Fatalf("rate %v burst %d: no RateLimit-Policy, but q/w can express the rate", r, burst)
			}
			omitted++
			continue
		}
		members, err := parseSFList(strings.Join(vals, ", "))
		if err != nil {
			t.Fatalf("rate %v burst %d: RateLimit-Policy %q is not a valid structured-field list: %v", r, burst, vals, err)
		}
		if len(members) != 1 {
			t.Fatalf("rate %v burst %d: RateLimit-Policy %q has %d members, want 1", r, burst, vals, len(members))
		}
		q, qok := members[0].params["q"].(int64)
		w, wok := members[0].params["w"].(int64)
		if !qok || !wok || q < 0 || w <= 0 {
			t.Fatalf("rate %v burst %d: RateLimit-Policy %q: q and w must be integers, q >= 0, w > 0", r, burst, vals)
		}
		per := r.Per
		if per == 0 {
			per = time.Second
		}
		// q/w per second == Events/Per: q·Per(ns) == Events·w·1e9.
		lhs := new(big.Int).Mul(big.NewInt(q), big.NewInt(int64(per)))
		rhs := new(big.Int).Mul(big.NewInt(int64(r.Events)), big.NewInt(w))
		rhs.Mul(rhs, big.NewInt(int64(time.Second)))
		if lhs.Cmp(rhs) != 0 {
			t.Fatalf("rate %v burst %d: RateLimit-Policy %q advertises %d per %ds, want the configured rate", r, burst, vals, q, w)
		}
	}
	t.Logf("RateLimit-Policy left out for %d of %d rates (no 15-digit q and w)", omitted, cases)
	if omitted > cases/100 {
		t.Errorf("RateLimit-Policy left out for %d of %d rates, want under 1%%", omitted, cases)
	}
}

// exactPolicyExists reports whether some q and w of at most 15 digits have
// q/w (per second) equal to r: whether the reduced fraction fits.
func exactPolicyExists(r ratelimit.Rate) bool {
	per := r.Per
	if per == 0 {
		per = time.Second
	}
	num := new(big.Int).Mul(big.NewInt(int64(r.Events)), big.NewInt(int64(time.Second)))
	den := big.NewInt(int64(per))
	gcd := new(big.Int).GCD(nil, nil, num, den)
	num.Quo(num, gcd)
	den.Quo(den, gcd)
	limit := big.NewInt(999_999_999_999_999)
	return num.Cmp(limit) <= 0 && den.Cmp(limit) <= 0
}

// The strict parser below implements RFC 9651 §4.2 for a List: members are
// Items or Inner Lists with Parameters, bare items are Integers, Decimals,
// Strings, Tokens, Byte Sequences or Booleans, and anything else (a tab
// inside parameters, an uppercase key, an Integer of 16 digits, a trailing
// comma) fails the whole field. It is written from the RFC, independently of
// ParseRateLimitPolicy, as the oracle for what the server writes.

type sfMember struct {
	value  any // for an Inner List, []any
	params map[string]any
}

type sfTestString string

func parseSFList(s string) ([]sfMember, error) {
	p := &strictParser{s: strings.TrimLeft(s, " ")}
	p.s = strings.TrimRight(p.s, " ")
	var out []sfMember
	for p.i < len(p.s) {
		m, err := p.member()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
		p.ows()
		if p.i == len(p.s) {
			return out, nil
		}
		if p.s[p.i] != ',' {
			return nil, p.fail("expected ','")
		}
		p.i++
		p.ows()
		if p.i == len(p.s) {
			return nil, p.fail("trailing ','")
		}
	}
	return out, nil
}

type strictParser struct {
	s string
	i int
}

func (p *strictParser) fail(what string) error {
	return fmt.Errorf("%s at %d in %q", what, p.i, p.s)
}

func (p *strictParser) ows() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *strictParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *strictParser) member() (sfMember, error) {
	var v any
	var err error
	if p.peek() == '(' {
		v, err = p.innerList()
	} else {
		v, err = p.bareItem()
	}
	if err != nil {
		return sfMember{}, err
	}
	params, err := p.parameters()
	return sfMember{v, params}, err
}

func (p *strictParser) innerList() ([]any, error) {
	p.i++
	var items []any
	for p.i < len(p.s) {
		for p.peek() == ' ' {
			p.i++
		}
		if p.peek() == ')' {
			p.i++
			return items, nil
		}
		v, err := p.bareItem()
		if err != nil {
			return nil, err
		}
		if _, err := p.parameters(); err != nil {
			return nil, err
		}
		items = append(items, v)
		if c := p.peek(); c != ' ' && c != ')' {
			return nil, p.fail("expected ' ' or ')'")
		}
	}
	return nil, p.fail("unterminated inner list")
}

func (p *strictParser) parameters() (map[string]any, error) {
	params := map[string]any{}
	for p.peek() == ';' {
		p.i++
		for p.peek() == ' ' {
			p.i++
		}
		start := p.i
		if c := p.peek(); !(c >= 'a' && c <= 'z' || c == '*') {
			return nil, p.fail("bad key")
		}
		for p.i < len(p.s) {
			c := p.s[p.i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("_-.*", c) >= 0) {
				break
			}
			p.i++
		}
		key := p.s[start:p.i]
		var v any = true
		if p.peek() == '=' {
			p.i++
			var err error
			if v, err = p.bareItem(); err != nil {
				return nil, err
			}
		}
		params[key] = v
	}
	return params, nil
}

func (p *strictParser) bareItem() (any, error) {
	c := p.peek()
	switch {
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == '"':
		return p.str()
	case c == ':':
		end := strings.IndexByte(p.s[p.i+1:], ':')
		if end < 0 {
			return nil, p.fail("unterminated byte sequence")
		}
		v := p.s[p.i+1 : p.i+1+end]
		for _, b := range []byte(v) {
			if !(b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '+' || b == '/' || b == '=') {
				return nil, p.fail("bad byte sequence")
			}
		}
		p.i += end + 2
		return []byte(v), nil
	case c == '?':
		if p.i+1 < len(p.s) && (p.s[p.i+1] == '0' || p.s[p.i+1] == '1') {
			p.i += 2
			return p.s[p.i-1] == '1', nil
		}
		return nil, p.fail("bad boolean")
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '*':
		start := p.i
		for p.i++; p.i < len(p.s); p.i++ {
			c := p.s[p.i]
			if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),;<=>?@[\]{}`, c) >= 0 {
				break
			}
		}
		return p.s[start:p.i], nil
	}
	return nil, p.fail("unexpected character")
}

func (p *strictParser) number() (any, error) {
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	if c := p.peek(); c < '0' || c > '9' {
		return nil, p.fail("bad number")
	}
	dot := -1
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '.' && dot < 0 {
			dot = p.i
		} else if c < '0' || c > '9' {
			break
		}
		p.i++
	}
	num := p.s[start:p.i]
	digits := strings.TrimPrefix(num, "-")
	if dot < 0 {
		if len(digits) > 15 {
			return nil, p.fail("integer of more than 15 digits")
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return nil, p.fail("bad integer")
		}
		return n, nil
	}
	intPart, frac, _ := strings.Cut(digits, ".")
	if len(intPart) > 12 || len(frac) == 0 || len(frac) > 3 {
		return nil, p.fail("bad decimal")
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return nil, p.fail("bad decimal")
	}
	return f, nil
}

func (p *strictParser) str() (any, error) {
	var b strings.Builder
	for p.i++; p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		switch {
		case c == '\\':
			p.i++
			if p.i == len(p.s) || p.s[p.i] != '"' && p.s[p.i] != '\\' {
				return nil, p.fail("bad escape")
			}
			b.WriteByte(p.s[p.i])
		case c == '"':
			p.i++
			return sfTestString(b.String()), nil
		case c < 0x20 || c > 0x7e:
			return nil, p.fail("bad character in string")
		default:
			b.WriteByte(c)
		}
	}
	return nil, p.fail("unterminated string")
}

// TestStrictParser: the oracle rejects what RFC 9651 rejects.
func TestStrictParser(t *testing.T) {
	bad := []string{
		`"a";q=1,`, `"a";Q=1`, `"a";q=1234567890123456`, `"a";q=1.`, `"a";q=1.1234`,
		`"a" "b"`, `"a`, `"a";q=?2`, `"a\n"`, `"a";q=1;;w=2`,
	}
	for _, s := range bad {
		if m, err := parseSFList(s); err == nil {
			t.Errorf("parseSFList(%q) = %v, want an error", s, m)
		}
	}
	m, err := parseSFList(`"a";q=100;w=60, "b";q=1.5;x ,	("c" d);pk=:aGk=:`)
	if err != nil || len(m) != 3 || m[0].value != sfTestString("a") || m[0].params["q"] != int64(100) || m[1].params["x"] != true {
		t.Errorf("parseSFList(valid) = %+v, %v", m, err)
	}
}
