package bench

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// These tests check that every implementation in the figures is set up as
// the figure says: an admitted-path limiter admits, a rejection-path one
// refuses, and each Redis decision costs the round trips the figure
// reports. A comparison is only as honest as its settings.

func TestLimiterSettings(t *testing.T) {
	const calls = 1000
	for _, im := range limiterImpls() {
		t.Run(im.name, func(t *testing.T) {
			if im.newAllow != nil {
				try := im.newAllow(t)
				for i := range calls {
					if !try() {
						t.Fatalf("admitting limiter: call %d = refused, want admitted", i)
					}
				}
			}
			if im.newReject != nil {
				try := im.newReject(t)
				for i := range calls {
					if try() {
						t.Fatalf("refusing limiter: call %d = admitted, want refused", i)
					}
				}
			}
		})
	}
}

func TestKeyedSettings(t *testing.T) {
	for _, im := range keyedImpls() {
		t.Run(im.name, func(t *testing.T) {
			allow := im.new(t)
			for i := range 1000 {
				key := "k" + strconv.Itoa(i%100)
				if !allow(key) {
					t.Fatalf("allow(%q) = refused, want admitted", key)
				}
			}
		})
	}
}

func TestRedisSettings(t *testing.T) {
	requireRedis(t)
	const calls = 20
	for _, im := range redisImpls() {
		t.Run(im.name, func(t *testing.T) {
			var rt atomic.Int64
			decide := im.new(t, uniqueName(redisKeyPrefix+"test-"+im.name), &rt)
			ctx := context.Background()
			for range 5 { // load scripts, open the connection
				if _, err := decide(ctx); err != nil {
					t.Fatal(err)
				}
			}
			rt.Store(0)
			for i := range calls {
				ok, err := decide(ctx)
				if err != nil || !ok {
					t.Fatalf("decision %d = %v, %v; want admitted, nil", i, ok, err)
				}
			}
			got := rt.Load()
			if strings.HasSuffix(im.name, "/lease") {
				if got >= calls {
					t.Errorf("%d leased decisions took %d round trips, want fewer", calls, got)
				}
			} else if got != calls {
				t.Errorf("%d decisions took %d round trips, want %d", calls, got, calls)
			}
		})
	}
}
