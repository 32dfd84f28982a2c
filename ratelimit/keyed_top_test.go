package ratelimit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/levee-go/levee/clock/clocktest"
	"github.com/levee-go/levee/ratelimit"
)

func TestKeyedTop(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	k := mustKeyed(t, ratelimit.KeyedConfig{Rate: ratelimit.PerSecond(10), Burst: 10, Shards: 4, Clock: clk})
	// Key i spends i tokens of its 10: key9 is the closest to its limit.
	for i := range 10 {
		for range i {
			if !k.AllowKey(fmt.Sprintf("key%d", i)) {
				t.Fatalf("key%d refused within its burst", i)
			}
		}
	}
	if err := k.SetOverride("vip", ratelimit.Override{Rate: ratelimit.PerSecond(1), Burst: 1}); err != nil {
		t.Fatal(err)
	}
	k.AllowKey("vip")

	top := k.Top(3)
	want := []ratelimit.KeyUsage{{Key: "key9", Used: 0.9}, {Key: "key8", Used: 0.8}, {Key: "key7", Used: 0.7}}
	if len(top) != len(want) {
		t.Fatalf("Top(3) = %v, want %v", top, want)
	}
	for i := range want {
		if top[i].Key != want[i].Key || abs(top[i].Used-want[i].Used) > 1e-9 {
			t.Errorf("Top(3)[%d] = %+v, want %+v", i, top[i], want[i])
		}
	}
	if all := k.Top(100); len(all) != 9 {
		t.Errorf("Top(100) lists %d keys, want 9 (key0 spent nothing, vip has an override)", len(all))
	}
	// Half a second refills 5 tokens: key9 has 4 of 10 spent, key4 none.
	clk.Advance(500 * time.Millisecond)
	top = k.Top(10)
	if len(top) != 4 || top[0].Key != "key9" || abs(top[0].Used-0.4) > 1e-9 {
		t.Errorf("Top(10) half a second later = %v, want key9 at 0.4 first and 4 keys", top)
	}
	if got := k.Top(0); got != nil {
		t.Errorf("Top(0) = %v, want nil", got)
	}
	var zero ratelimit.Keyed
	if got := zero.Top(5); got != nil {
		t.Errorf("zero Keyed Top(5) = %v, want nil", got)
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func BenchmarkKeyedTop(b *testing.B) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Rate: ratelimit.PerSecond(10), Burst: 10, Clock: clk, MaxKeys: 100_000})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 100_000 {
		k.AllowKey(fmt.Sprintf("tenant-%d", i))
	}
	b.ReportAllocs()
	for b.Loop() {
		k.Top(10)
	}
}
