package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"strings"
)

// font is a 3×5 bitmap font: five rows of three bits per glyph, top first.
var font = map[rune][5]uint8{
	'A': {2, 5, 7, 5, 5}, 'B': {6, 5, 6, 5, 6}, 'C': {3, 4, 4, 4, 3}, 'D': {6, 5, 5, 5, 6},
	'E': {7, 4, 6, 4, 7}, 'F': {7, 4, 6, 4, 4}, 'G': {3, 4, 5, 5, 3}, 'H': {5, 5, 7, 5, 5},
	'I': {7, 2, 2, 2, 7}, 'J': {1, 1, 1, 5, 2}, 'K': {5, 5, 6, 5, 5}, 'L': {4, 4, 4, 4, 7},
	'M': {5, 7, 7, 5, 5}, 'N': {6, 5, 5, 5, 5}, 'O': {2, 5, 5, 5, 2}, 'P': {6, 5, 6, 4, 4},
	'Q': {2, 5, 5, 6, 3}, 'R': {6, 5, 6, 5, 5}, 'S': {3, 4, 2, 1, 6}, 'T': {7, 2, 2, 2, 2},
	'U': {5, 5, 5, 5, 7}, 'V': {5, 5, 5, 5, 2}, 'W': {5, 5, 7, 7, 5}, 'X': {5, 5, 2, 5, 5},
	'Y': {5, 5, 2, 2, 2}, 'Z': {7, 1, 2, 4, 7},
	'0': {7, 5, 5, 5, 7}, '1': {2, 6, 2, 2, 7}, '2': {6, 1, 2, 4, 7}, '3': {6, 1, 2, 1, 6},
	'4': {5, 5, 7, 1, 1}, '5': {7, 4, 6, 1, 6}, '6': {3, 4, 7, 5, 7}, '7': {7, 1, 2, 2, 2},
	'8': {7, 5, 7, 5, 7}, '9': {7, 5, 7, 1, 6}, '.': {0, 0, 0, 0, 2}, '-': {0, 0, 7, 0, 0},
	'(': {1, 2, 2, 2, 1}, ')': {4, 2, 2, 2, 4}, '/': {1, 1, 2, 4, 4}, ',': {0, 0, 0, 2, 4},
	'%': {5, 1, 2, 4, 5}, ':': {0, 2, 0, 2, 0}, '=': {0, 7, 0, 7, 0},
}

// palette gives each protection a colour, in the order of [Protections].
var palette = []color.RGBA{
	{200, 30, 30, 255}, {90, 90, 90, 255}, {230, 140, 0, 255}, {150, 60, 200, 255},
	{20, 120, 220, 255}, {0, 160, 120, 255}, {120, 80, 30, 255},
}

type canvas struct {
	*image.RGBA
}

func (c canvas) dot(x, y int, col color.RGBA, size int) {
	for dx := -size / 2; dx <= size/2; dx++ {
		for dy := -size / 2; dy <= size/2; dy++ {
			c.Set(x+dx, y+dy, col)
		}
	}
}

// line draws a line of the given width (Bresenham); dash > 0 skips every
// other run of dash pixels.
func (c canvas) line(x0, y0, x1, y1 int, col color.RGBA, width, dash int) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for i := 0; ; i++ {
		if dash == 0 || (i/dash)%2 == 0 {
			c.dot(x0, y0, col, width)
		}
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else {
			e += dx
			y0 += sy
		}
	}
}

// text writes s (upper-cased) with its top-left corner at (x, y), at
// scale pixels per font pixel; it returns the width drawn.
func (c canvas) text(x, y int, s string, col color.RGBA, scale int) int {
	x0 := x
	for _, r := range strings.ToUpper(s) {
		g := font[r]
		for row, bits := range g {
			for bit := range 3 {
				if bits&(4>>bit) != 0 {
					for i := range scale {
						for j := range scale {
							c.Set(x+bit*scale+i, y+row*scale+j, col)
						}
					}
				}
			}
		}
		x += 4 * scale
	}
	return x - x0
}

func textWidth(s string, scale int) int { return len(s) * 4 * scale }

// writeChart draws goodput against offered load, one line per protection,
// with the server's capacity as a dashed line.
func writeChart(w io.Writer, p Params, rs []Result) error {
	const W, H = 960, 600
	const left, right, top, bottom = 90, 200, 64, 70
	c := canvas{image.NewRGBA(image.Rect(0, 0, W, H))}
	white := color.RGBA{255, 255, 255, 255}
	black := color.RGBA{0, 0, 0, 255}
	grid := color.RGBA{225, 225, 225, 255}
	for x := range W {
		for y := range H {
			c.Set(x, y, white)
		}
	}
	maxLoad, maxY := 1.0, p.Capacity()*1.2
	for _, r := range rs {
		maxLoad = max(maxLoad, r.Load)
		maxY = max(maxY, r.GoodputRPS*1.1)
	}
	maxLoad = math.Ceil(maxLoad)
	stepY := niceStep(maxY / 6)
	maxY = math.Ceil(maxY/stepY) * stepY
	px := func(load float64) int { return left + int(load/maxLoad*float64(W-left-right)) }
	py := func(v float64) int { return H - bottom - int(v/maxY*float64(H-top-bottom)) }

	for v := 0.0; v <= maxY+1e-9; v += stepY {
		c.line(left, py(v), W-right, py(v), grid, 1, 0)
		s := fmt.Sprintf("%.0f", v)
		c.text(left-10-textWidth(s, 2), py(v)-5, s, black, 2)
	}
	for l := 0.0; l <= maxLoad+1e-9; l++ {
		c.line(px(l), top, px(l), H-bottom, grid, 1, 0)
		s := fmt.Sprintf("%.0fX", l)
		c.text(px(l)-textWidth(s, 2)/2, H-bottom+10, s, black, 2)
	}
	c.line(left, H-bottom, W-right, H-bottom, black, 2, 0)
	c.line(left, top, left, H-bottom, black, 2, 0)
	c.line(left, py(p.Capacity()), W-right, py(p.Capacity()), black, 1, 6)
	c.text(left+8, py(p.Capacity())-16, fmt.Sprintf("CAPACITY %.0f RPS", p.Capacity()), black, 2)

	title := fmt.Sprintf("GOODPUT (OK WITHIN %v) VS OFFERED LOAD", p.Objective)
	c.text(left, 10, title, black, 3)
	xl := "OFFERED LOAD (X CAPACITY)"
	c.text(left+(W-left-right-textWidth(xl, 2))/2, H-bottom+35, xl, black, 2)
	c.text(10, top-22, "GOODPUT RPS", black, 2)

	ly := top
	for i, name := range Protections {
		var pts [][2]int
		for _, r := range rs {
			if r.Protect == name {
				pts = append(pts, [2]int{px(r.Load), py(r.GoodputRPS)})
			}
		}
		if len(pts) == 0 {
			continue
		}
		col := palette[i%len(palette)]
		for j := range pts {
			if j > 0 {
				c.line(pts[j-1][0], pts[j-1][1], pts[j][0], pts[j][1], col, 3, 0)
			}
			c.dot(pts[j][0], pts[j][1], col, 7)
		}
		c.line(W-right+10, ly+5, W-right+40, ly+5, col, 3, 0)
		c.text(W-right+48, ly, name, col, 2)
		ly += 22
	}
	return png.Encode(w, c)
}

// niceStep rounds a step up to 1, 2 or 5 times a power of ten.
func niceStep(s float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(s)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= s {
			return m * p
		}
	}
	return 10 * p
}

func abs(v int) int { return max(v, -v) }

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
