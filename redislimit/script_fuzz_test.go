package redislimit

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

func TestParseReply(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want int64
		res  reply
		ok   bool
	}{
		{"allowed", []any{int64(1), int64(4), int64(0), int64(100000)}, 1, reply{1, 4, 0, 100 * time.Millisecond}, true},
		{"refused", []any{int64(0), int64(0), int64(2500), int64(9000)}, 3, reply{0, 0, 2500 * time.Microsecond, 9 * time.Millisecond}, true},
		{"lease grant", []any{int64(25), int64(0), int64(0), int64(1)}, 25, reply{25, 0, 0, time.Microsecond}, true},
		{"nil", nil, 1, reply{}, false},
		{"string", "OK", 1, reply{}, false},
		{"short", []any{int64(1), int64(2), int64(3)}, 1, reply{}, false},
		{"long", []any{int64(1), int64(2), int64(3), int64(4), int64(5)}, 1, reply{}, false},
		{"string element", []any{int64(1), "2", int64(3), int64(4)}, 1, reply{}, false},
		{"nil element", []any{int64(1), nil, int64(3), int64(4)}, 1, reply{}, false},
		{"negative", []any{int64(1), int64(-2), int64(3), int64(4)}, 1, reply{}, false},
		{"granted too many", []any{int64(2), int64(0), int64(0), int64(4)}, 1, reply{}, false},
		{"retry out of range", []any{int64(0), int64(0), int64(1) << 62, int64(4)}, 1, reply{}, false},
		{"nested", []any{[]any{int64(1)}, int64(0), int64(0), int64(4)}, 1, reply{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseReply(tt.v, tt.want)
			if tt.ok && (err != nil || got != tt.res) {
				t.Fatalf("parseReply(%v, %d) = %+v, %v; want %+v", tt.v, tt.want, got, err, tt.res)
			}
			if !tt.ok && (err == nil || !errors.Is(err, errReply)) {
				t.Fatalf("parseReply(%v, %d) = %+v, %v; want errReply", tt.v, tt.want, got, err)
			}
		})
	}
}

// decodeValue turns fuzz bytes into a reply of the shapes go-redis returns
// for RESP values (int64, string, nil, []any, error, float64, bool), so the
// fuzzer explores arbitrary, nested and truncated replies.
func decodeValue(b []byte, depth int) (any, []byte) {
	if len(b) == 0 {
		return nil, b
	}
	tag, b := b[0], b[1:]
	switch tag % 7 {
	case 0:
		if len(b) < 8 {
			return int64(len(b)), nil
		}
		return int64(binary.LittleEndian.Uint64(b)), b[8:]
	case 1:
		n := min(int(tag/7), len(b))
		return string(b[:n]), b[n:]
	case 2:
		return nil, b
	case 3:
		if depth > 3 {
			return []any{}, b
		}
		n := int(tag/7) % 6
		a := make([]any, 0, n)
		for range n {
			var v any
			v, b = decodeValue(b, depth+1)
			a = append(a, v)
		}
		return a, b
	case 4:
		return errors.New("ERR fuzz"), b
	case 5:
		return float64(tag), b
	default:
		return tag%2 == 0, b
	}
}

func FuzzParseReply(f *testing.F) {
	// Seeds: the table's well-formed replies, encoded.
	enc := func(vals ...int64) []byte {
		b := []byte{3 + 7*byte(len(vals))}
		for _, v := range vals {
			b = append(b, 0)
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
		return b
	}
	f.Add(enc(1, 4, 0, 100000), int64(1))
	f.Add(enc(0, 0, 2500, 9000), int64(3))
	f.Add(enc(25, 0, 0, 1), int64(25))
	f.Add(enc(1, -2, 3, 4), int64(1))
	f.Add(enc(1, 2, 3), int64(1))
	f.Add([]byte{1 + 7*2, 'O', 'K'}, int64(1))
	f.Add([]byte{}, int64(1))
	f.Fuzz(func(t *testing.T, data []byte, want int64) {
		v, _ := decodeValue(data, 0)
		r, err := parseReply(v, want)
		if err != nil {
			if !errors.Is(err, errReply) {
				t.Fatalf("parseReply(%v) error %v does not match errReply", v, err)
			}
			return
		}
		if r.granted < 0 || r.granted > want || r.remaining < 0 || r.retryAfter < 0 || r.resetAfter < 0 {
			t.Fatalf("parseReply(%v, %d) = %+v, accepted out-of-range values", v, want, r)
		}
	})
}
