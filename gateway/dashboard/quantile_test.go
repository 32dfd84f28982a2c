package dashboard

import "testing"

func TestQuantile(t *testing.T) {
	bounds := []float64{0.1, 0.2, 0.4}
	for _, tc := range []struct {
		name       string
		q          float64
		cumulative []uint64
		total      uint64
		want       float64
	}{
		{"empty", 0.5, []uint64{0, 0, 0}, 0, 0},
		{"all in the first bucket", 0.5, []uint64{10, 10, 10}, 10, 0.05},
		{"interpolated in the second", 0.5, []uint64{0, 10, 10}, 10, 0.15},
		{"p99 in the third", 0.99, []uint64{50, 90, 100}, 100, 0.2 + 0.2*9/10},
		{"past the last bound", 0.99, []uint64{0, 0, 0}, 10, 0.4},
	} {
		if got := quantile(tc.q, bounds, tc.cumulative, tc.total); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("%s: quantile(%v, %v, %v, %d) = %v, want %v", tc.name, tc.q, bounds, tc.cumulative, tc.total, got, tc.want)
		}
	}
}
