package leveehttp

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
)

// A stored record is the value an [IdempotencyStore] holds for a key:
//
//	pending: 'P' fingerprint[32] nonce[16]
//	done:    'D' fingerprint[32] status[2, big endian] headers body
//
// where headers is a uvarint count of (name, value) pairs, each a uvarint
// length and its bytes, and body the rest. The nonce makes every pending
// record unique, so a settle that compares values settles only its own
// claim.
const (
	recordPending = 'P'
	recordDone    = 'D'
	fpSize        = 32
	nonceSize     = 16
)

// errRecord is matched by the errors decodeRecord returns.
var errRecord = errors.New("leveehttp: malformed idempotency record")

type idemRecord struct {
	done   bool
	fp     [fpSize]byte
	status int
	header http.Header
	body   []byte
}

func encodePending(fp [fpSize]byte) []byte {
	b := make([]byte, 1+fpSize+nonceSize)
	b[0] = recordPending
	copy(b[1:], fp[:])
	_, _ = rand.Read(b[1+fpSize:]) // never fails (crypto/rand)
	return b
}

func encodeDone(fp [fpSize]byte, status int, h http.Header, body []byte) []byte {
	n := 1 + fpSize + 2 + binary.MaxVarintLen64 + len(body)
	pairs := 0
	for k, vs := range h {
		for _, v := range vs {
			n += 2*binary.MaxVarintLen64 + len(k) + len(v)
			pairs++
		}
	}
	b := make([]byte, 0, n)
	b = append(b, recordDone)
	b = append(b, fp[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(status))
	b = binary.AppendUvarint(b, uint64(pairs))
	for k, vs := range h {
		for _, v := range vs {
			b = binary.AppendUvarint(b, uint64(len(k)))
			b = append(b, k...)
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	return append(b, body...)
}

// decodeRecord reads a record a store returned. Bad input is an error
// matching errRecord, never a panic: the bytes come from outside the
// process.
func decodeRecord(b []byte) (idemRecord, error) {
	var r idemRecord
	if len(b) < 1+fpSize {
		return r, fmt.Errorf("%w: %d bytes", errRecord, len(b))
	}
	copy(r.fp[:], b[1:])
	switch b[0] {
	case recordPending:
		if len(b) != 1+fpSize+nonceSize {
			return r, fmt.Errorf("%w: pending record of %d bytes", errRecord, len(b))
		}
		return r, nil
	case recordDone:
	default:
		return r, fmt.Errorf("%w: kind %q", errRecord, b[0])
	}
	r.done = true
	b = b[1+fpSize:]
	if len(b) < 2 {
		return r, fmt.Errorf("%w: no status", errRecord)
	}
	r.status = int(binary.BigEndian.Uint16(b))
	if r.status < 100 || r.status > 999 {
		return r, fmt.Errorf("%w: status %d", errRecord, r.status)
	}
	b = b[2:]
	pairs, n := binary.Uvarint(b)
	if n <= 0 || pairs > uint64(len(b)) {
		return r, fmt.Errorf("%w: header count", errRecord)
	}
	b = b[n:]
	r.header = make(http.Header, min(pairs, 64))
	for i := uint64(0); i < pairs; i++ {
		var k, v []byte
		var ok bool
		if k, b, ok = lengthPrefixed(b); !ok {
			return r, fmt.Errorf("%w: header name %d", errRecord, i)
		}
		if v, b, ok = lengthPrefixed(b); !ok {
			return r, fmt.Errorf("%w: header value %d", errRecord, i)
		}
		name := string(k)
		r.header[name] = append(r.header[name], string(v))
	}
	r.body = b
	return r, nil
}

func lengthPrefixed(b []byte) (field, rest []byte, ok bool) {
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return nil, nil, false
	}
	return b[n : n+int(l)], b[n+int(l):], true
}
