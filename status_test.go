package levee_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/levee-go/levee"
)

func TestWaitUnits(t *testing.T) {
	tests := []struct {
		d, unit time.Duration
		want    int64
		wantOK  bool
	}{
		{1999700 * time.Microsecond, time.Millisecond, 2000, true},
		{2 * time.Second, time.Millisecond, 2000, true},
		{time.Nanosecond, time.Second, 1, true},
		{1500 * time.Millisecond, time.Second, 2, true},
		{3 * time.Second, time.Second, 3, true},
		{0, time.Second, 0, true},
		{-time.Nanosecond, time.Second, 0, false},
		{levee.Never, time.Second, 0, false},
		{time.Second, 0, 0, false},
	}
	for _, tt := range tests {
		n, ok := levee.WaitUnits(tt.d, tt.unit)
		if n != tt.want || ok != tt.wantOK {
			t.Errorf("WaitUnits(%v, %v) = %d, %v, want %d, %v", tt.d, tt.unit, n, ok, tt.want, tt.wantOK)
		}
	}
}

type fault levee.Status

func (f fault) Error() string             { return "injected" }
func (f fault) FaultStatus() levee.Status { return levee.Status(f) }

func TestStatusOf(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		want     levee.Code
		wantHTTP int
	}{
		{"nil", nil, levee.CodeOK, 200},
		{"limited", levee.Reject(levee.ErrLimited, time.Second), levee.CodeResourceExhausted, 429},
		{"open", fmt.Errorf("get: %w", levee.ErrOpen), levee.CodeUnavailable, 503},
		{"shed", levee.ErrShed, levee.CodeUnavailable, 503},
		{"timeout", levee.ErrTimeout, levee.CodeDeadlineExceeded, 504},
		{"deadline", context.DeadlineExceeded, levee.CodeDeadlineExceeded, 504},
		{"canceled", context.Canceled, levee.CodeCanceled, 499},
		{"panic", levee.NewPanicError("x"), levee.CodeInternal, 500},
		{"other", errors.New("x"), levee.CodeUnknown, 500},
		{"fault code", fmt.Errorf("w: %w", fault{Code: levee.CodeNotFound}), levee.CodeNotFound, 404},
		{"fault http", fault{Code: levee.CodeUnavailable, HTTP: 502}, levee.CodeUnavailable, 502},
		{"fault bad http", fault{Code: levee.CodeUnavailable, HTTP: 200}, levee.CodeUnavailable, 503},
		{"fault ok ignored", fault{Code: levee.CodeOK}, levee.CodeUnknown, 500},
		{"fault out of range ignored", fault{Code: 17}, levee.CodeUnknown, 500},
	}
	for _, tt := range tests {
		s := levee.StatusOf(tt.err)
		if s.Code != tt.want || s.HTTPStatus() != tt.wantHTTP {
			t.Errorf("%s: StatusOf(%v) = %v (HTTP %d), want %v (HTTP %d)", tt.name, tt.err, s.Code, s.HTTPStatus(), tt.want, tt.wantHTTP)
		}
	}
}

func TestCodeForHTTP(t *testing.T) {
	for _, st := range []int{400, 401, 403, 404, 429, 499, 500, 501, 503, 504} {
		if got := levee.CodeForHTTP(st).HTTPStatus(); got != st {
			t.Errorf("CodeForHTTP(%d).HTTPStatus() = %d, want %d", st, got, st)
		}
	}
	if c := levee.CodeForHTTP(502); c != levee.CodeUnavailable {
		t.Errorf("CodeForHTTP(502) = %v, want Unavailable", c)
	}
	if c := levee.CodeForHTTP(418); c != levee.CodeUnknown {
		t.Errorf("CodeForHTTP(418) = %v, want Unknown", c)
	}
	if st := levee.Code(99).HTTPStatus(); st != 500 {
		t.Errorf("Code(99).HTTPStatus() = %d, want 500", st)
	}
}
