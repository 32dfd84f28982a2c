package ratelimit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/levee-go/levee"
	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/ratelimit"
)

func mustBucket(t testing.TB, cfg ratelimit.Config) *ratelimit.TokenBucket {
	t.Helper()
	b, err := ratelimit.NewTokenBucket(cfg)
	if err != nil {
		t.Fatalf("NewTokenBucket(%+v) = %v", cfg, err)
	}
	return b
}

func TestTokenBucketAllow(t *testing.T) {
	b := mustBucket(t, ratelimit.Config{Rate: ratelimit.PerSecond(10), Burst: 2})
	tests := []struct {
		name string
		now  int64
		n    int
		want bool
	}{
		{"burst 1", 0, 1, true},
		{"burst 2", 0, 1, true},
		{"empty", 0, 1, false},
		{"one token after 100ms", 100 * ms, 1, true},
		{"n=2 after 150ms", 250 * ms, 2, false},
		{"n=2 after 200ms", 300 * ms, 2, true},
		{"n above burst", 10000 * ms, 3, false},
		{"n=0", 10000 * ms, 0, true},
	}
	for _, tt := range tests {
		if got := b.AllowNAt(tt.now, tt.n); got != tt.want {
			t.Errorf("%s: AllowNAt(%v, %d) = %v, want %v", tt.name, time.Duration(tt.now), tt.n, got, tt.want)
		}
	}
}

func TestTokenBucketReserve(t *testing.T) {
	b := mustBucket(t, ratelimit.Config{Rate: ratelimit.PerSecond(10), Burst: 1})
	r1 := b.ReserveAt(0)
	r2 := b.ReserveAt(0)
	r3 := b.ReserveNAt(0, 1)
	for i, tt := range []struct {
		r    *ratelimit.Reservation
		want time.Duration
	}{{&r1, 0}, {&r2, 100 * time.Millisecond}, {&r3, 200 * time.Millisecond}} {
		if !tt.r.OK() || tt.r.DelayFrom(0) != tt.want {
			t.Errorf("reservation %d: OK, DelayFrom(0) = %v, %v, want true, %v", i+1, tt.r.OK(), tt.r.DelayFrom(0), tt.want)
		}
	}
	// Cancelling r3 (the last) gives its token back: the next reservation
	// takes its place.
	r3.CancelAt(50 * ms)
	if r := b.ReserveAt(50 * ms); r.DelayFrom(50*ms) != 150*time.Millisecond {
		t.Errorf("ReserveAt(50ms) after cancelling the last = delay %v, want 150ms", r.DelayFrom(50*ms))
	}
	// Cancelling r2, which has reservations after it, gives back nothing
	// that later ones hold.
	r2.CancelAt(50 * ms)
	if r := b.ReserveAt(50 * ms); r.DelayFrom(50*ms) != 250*time.Millisecond {
		t.Errorf("ReserveAt(50ms) after cancelling a middle one = delay %v, want 250ms", r.DelayFrom(50*ms))
	}
	// A second cancel is a no-op.
	r3.CancelAt(50 * ms)
	if r := b.ReserveAt(50 * ms); r.DelayFrom(50*ms) != 350*time.Millisecond {
		t.Errorf("ReserveAt(50ms) after a repeated cancel = delay %v, want 350ms", r.DelayFrom(50*ms))
	}
	if r := b.ReserveNAt(0, 2); r.OK() || r.DelayFrom(0) != levee.Never {
		t.Errorf("ReserveNAt(0, 2) above burst = OK %v delay %v, want not OK, Never", r.OK(), r.DelayFrom(0))
	}
}

func TestTokenBucketWait(t *testing.T) {
	clk := clocktest.New(time.Time{})
	b := mustBucket(t, ratelimit.Config{Rate: ratelimit.PerSecond(10), Burst: 1, Clock: clk})
	ctx := context.Background()
	if err := b.Wait(ctx); err != nil {
		t.Fatalf("Wait with a full bucket = %v, want nil", err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Wait(ctx) }()
	clk.BlockUntil(1)
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v before the token accrued", err)
	default:
	}
	clk.Advance(100 * time.Millisecond)
	if err := <-done; err != nil {
		t.Fatalf("Wait = %v, want nil", err)
	}
}

func TestTokenBucketWaitDeadline(t *testing.T) {
	// The fake clock starts at the real time so that the context (which
	// runs on real time) is not already past its deadline.
	clk := clocktest.New(time.Now())
	b := mustBucket(t, ratelimit.Config{Rate: ratelimit.Every(time.Minute), Burst: 1, Clock: clk})
	b.Allow()
	ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(time.Minute/2))
	defer cancel()
	err := b.Wait(ctx)
	if !errors.Is(err, levee.ErrLimited) {
		t.Fatalf("Wait that would pass the deadline = %v, want ErrLimited at once", err)
	}
	if d, ok := levee.RetryAfter(err); !ok || d != time.Minute {
		t.Errorf("RetryAfter(err) = %v, %v, want 1m, true", d, ok)
	}
	// Nothing was taken: after a minute the token is there.
	clk.Advance(time.Minute)
	if !b.Allow() {
		t.Errorf("Allow() after the refused wait = false, want true (nothing taken)")
	}
	if err := b.WaitN(context.Background(), 2); !errors.Is(err, ratelimit.ErrExceedsBurst) {
		t.Errorf("WaitN(2) above burst = %v, want ErrExceedsBurst", err)
	}
}

func TestTokenBucketWaitCancel(t *testing.T) {
	clk := clocktest.New(time.Time{})
	b := mustBucket(t, ratelimit.Config{Rate: ratelimit.PerSecond(1), Burst: 1, Clock: clk})
	b.Allow()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Wait(ctx) }()
	clk.BlockUntil(1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait cancelled = %v, want context.Canceled", err)
	}
	// The cancelled wait gave its token back.
	clk.Advance(time.Second)
	if !b.Allow() {
		t.Errorf("Allow() after a cancelled wait = false, want true")
	}
	if err := b.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait on a done context = %v, want context.Canceled", err)
	}
}

// TestTokenBucketDecideAfterReservations: reservations push the bucket's
// timestamp beyond now + burst; decisions must still report sane values.
func TestTokenBucketDecideAfterReservations(t *testing.T) {
	b := mustBucket(t, ratelimit.Config{Rate: ratelimit.PerSecond(10), Burst: 1})
	for range 5 {
		b.ReserveAt(0)
	}
	want := levee.Decision{Limit: 1, Remaining: 0, RetryAfter: 500 * time.Millisecond, Reset: 500 * time.Millisecond, Rate: 10, Window: time.Second}
	if d := b.DecideAt(0); d != want {
		t.Errorf("DecideAt(0) after 5 reservations = %+v, want %+v", d, want)
	}
}
