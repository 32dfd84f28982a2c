package leveehttp

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// HeaderIdempotencyKey is the request field that names an idempotent
// request (IETF draft-ietf-httpapi-idempotency-key-header).
const HeaderIdempotencyKey = "Idempotency-Key"

// DefaultMaxKeyLength bounds an Idempotency-Key's length, in bytes after
// unescaping, when [IdempotencyOptions.MaxKeyLength] is zero.
const DefaultMaxKeyLength = 255

// ErrIdempotencyKey is matched by the errors [ParseIdempotencyKey] returns
// for a value it refuses.
var ErrIdempotencyKey = errors.New("leveehttp: bad Idempotency-Key")

// ParseIdempotencyKey reads an Idempotency-Key field value. The draft makes
// it a Structured Field string, "8e03978e-40d5-43e8-bc93-6894a57f9324",
// quotes included, whose characters are printable ASCII with \" and \\
// escaped; many clients send the key bare, so a value without quotes is
// accepted too when it is a run of visible ASCII without quotes,
// backslashes or commas. Surrounding spaces and tabs are ignored. The key
// must hold 1 to max bytes (zero or negative max means
// [DefaultMaxKeyLength]). Errors match [ErrIdempotencyKey] and say what is
// wrong at which byte; a key that needs no unescaping is returned without
// allocation.
func ParseIdempotencyKey(v string, max int) (string, error) {
	if max <= 0 {
		max = DefaultMaxKeyLength
	}
	v = strings.Trim(v, " \t")
	if v == "" {
		return "", fmt.Errorf("%w: empty", ErrIdempotencyKey)
	}
	var key string
	if v[0] == '"' {
		k, err := parseSFString(v)
		if err != nil {
			return "", err
		}
		key = k
	} else {
		for i := 0; i < len(v); i++ {
			if c := v[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == ',' {
				return "", fmt.Errorf("%w: byte %d (%q) not allowed in a bare key", ErrIdempotencyKey, i, c)
			}
		}
		key = v
	}
	if key == "" {
		return "", fmt.Errorf("%w: empty", ErrIdempotencyKey)
	}
	if len(key) > max {
		return "", fmt.Errorf("%w: %d bytes, more than %d", ErrIdempotencyKey, len(key), max)
	}
	return key, nil
}

// parseSFString parses v, which starts with a quote, as a whole Structured
// Field string (RFC 9651 §4.2.5).
func parseSFString(v string) (string, error) {
	var b []byte // allocated at the first escape only
	for i := 1; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\':
			if i+1 == len(v) || (v[i+1] != '"' && v[i+1] != '\\') {
				return "", fmt.Errorf("%w: bad escape at byte %d", ErrIdempotencyKey, i)
			}
			if b == nil {
				b = append(make([]byte, 0, len(v)), v[1:i]...)
			}
			i++
			b = append(b, v[i])
		case c == '"':
			if i != len(v)-1 {
				return "", fmt.Errorf("%w: data after the closing quote at byte %d", ErrIdempotencyKey, i+1)
			}
			if b == nil {
				return v[1:i], nil
			}
			return string(b), nil
		case c < ' ' || c >= 0x7f:
			return "", fmt.Errorf("%w: byte %d (%q) not allowed in a string", ErrIdempotencyKey, i, c)
		default:
			if b != nil {
				b = append(b, c)
			}
		}
	}
	return "", fmt.Errorf("%w: no closing quote", ErrIdempotencyKey)
}

// idempotencyKeyOf reads r's Idempotency-Key: "" and no error when the
// request has none; a repeated field is refused, as the draft allows one.
func idempotencyKeyOf(r *http.Request, max int) (string, error) {
	vs := r.Header[HeaderIdempotencyKey]
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return ParseIdempotencyKey(vs[0], max)
	}
	return "", fmt.Errorf("%w: the field appears %d times", ErrIdempotencyKey, len(vs))
}
