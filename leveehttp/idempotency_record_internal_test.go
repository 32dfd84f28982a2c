package leveehttp

import (
	"bytes"
	"errors"
	"net/http"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	fp := [fpSize]byte{1, 2, 3}
	h := http.Header{"Content-Type": {"text/plain"}, "Set-Cookie": {"a=1", "b=2"}}
	rec, err := decodeRecord(encodeDone(fp, 201, h, []byte("body")))
	if err != nil || !rec.done || rec.fp != fp || rec.status != 201 || string(rec.body) != "body" ||
		len(rec.header["Set-Cookie"]) != 2 || rec.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("decodeRecord(encodeDone(...)) = %+v, %v", rec, err)
	}
	p1, p2 := encodePending(fp), encodePending(fp)
	if bytes.Equal(p1, p2) {
		t.Errorf("two pending records are equal: a stale settle could end a newer claim")
	}
	if rec, err := decodeRecord(p1); err != nil || rec.done || rec.fp != fp {
		t.Errorf("decodeRecord(pending) = %+v, %v", rec, err)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeDone([fpSize]byte{9}, 200, http.Header{"A": {"b"}}, []byte("x")))
	f.Add(encodePending([fpSize]byte{}))
	f.Add([]byte("D"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeRecord(b)
		if err != nil {
			if !errors.Is(err, errRecord) {
				t.Fatalf("decodeRecord error %v does not match errRecord", err)
			}
			return
		}
		if !rec.done {
			return
		}
		again, err := decodeRecord(encodeDone(rec.fp, rec.status, rec.header, rec.body))
		if err != nil || again.status != rec.status || !bytes.Equal(again.body, rec.body) || len(again.header) != len(rec.header) {
			t.Fatalf("re-encoding %+v gives %+v, %v", rec, again, err)
		}
	})
}
