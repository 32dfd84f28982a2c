package main

import (
	"bytes"
	"image/png"
	"testing"
	"time"
)

func TestWriteChart(t *testing.T) {
	p := Params{Workers: 8, Mean: 10 * time.Millisecond, Objective: 100 * time.Millisecond}
	var rs []Result
	for i, name := range Protections {
		for _, l := range Loads {
			rs = append(rs, Result{Protect: name, Load: l, GoodputRPS: min(l, 1) * 800 * (1 - 0.05*float64(i))})
		}
	}
	var buf bytes.Buffer
	if err := writeChart(&buf, p, rs); err != nil {
		t.Fatalf("writeChart = %v", err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("png.Decode(chart) = %v", err)
	}
	if b := img.Bounds(); b.Dx() != 960 || b.Dy() != 600 {
		t.Errorf("chart size = %v, want 960x600", b)
	}
}
