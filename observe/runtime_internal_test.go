package observe

import (
	"math"
	"testing"
	"time"
)

func TestDeltaQuantile(t *testing.T) {
	inf := math.Inf(1)
	buckets := []float64{math.Inf(-1), 0, 0.001, 0.002, 0.005, inf}
	tests := []struct {
		name      string
		prev, cur []uint64
		q         float64
		want      time.Duration
		wantOK    bool
	}{
		{"nothing new", []uint64{0, 3, 4, 0, 1}, []uint64{0, 3, 4, 0, 1}, 0.99, 0, false},
		{"all in one bucket", []uint64{0, 0, 0, 0, 0}, []uint64{0, 0, 10, 0, 0}, 0.99, 2 * time.Millisecond, true},
		{"only the delta counts", []uint64{0, 0, 1000, 0, 0}, []uint64{0, 0, 1000, 10, 0}, 0.5, 5 * time.Millisecond, true},
		{"p99 in the tail", []uint64{0, 0, 0, 0, 0}, []uint64{0, 98, 1, 1, 0}, 0.99, 2 * time.Millisecond, true},
		{"p50 in the head", []uint64{0, 0, 0, 0, 0}, []uint64{0, 98, 1, 1, 0}, 0.5, time.Millisecond, true},
		{"unbounded bucket reports its lower bound", []uint64{0, 0, 0, 0, 0}, []uint64{0, 0, 0, 0, 3}, 0.99, 5 * time.Millisecond, true},
		{"below zero reports zero", []uint64{0, 0, 0, 0, 0}, []uint64{2, 0, 0, 0, 0}, 1, 0, true},
		{"q of 1 is the maximum", []uint64{0, 0, 0, 0, 0}, []uint64{0, 100, 0, 1, 0}, 1, 5 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := deltaQuantile(buckets, tt.prev, tt.cur, tt.q)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("deltaQuantile(%v, %v, %v) = %v, %v; want %v, %v", tt.prev, tt.cur, tt.q, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
