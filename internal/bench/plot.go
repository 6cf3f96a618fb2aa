package bench

import (
	"image"
	"image/color"
	"image/png"
	"os"
)

// writePlot draws the soak's series as stacked line charts, one panel per
// metric in metricsOf's order (top to bottom: RSS, goroutines, open
// files, database size, p99), each scaled to its own range. The shaded
// band is ±10 % around the first third's mean: a flat series ends inside
// it. The stdlib has no font, so the panels carry no text; the summary
// names them and gives the numbers.
func writePlot(path string, r *SoakReport) error {
	const (
		w, ph, pad = 900, 150, 12
	)
	n := len(metricsOf)
	img := image.NewRGBA(image.Rect(0, 0, w, n*ph))
	fill(img, img.Bounds(), color.RGBA{255, 255, 255, 255})
	for i, m := range metricsOf {
		panel := image.Rect(pad, i*ph+pad, w-pad, (i+1)*ph-pad)
		vals := make([]float64, len(r.Samples))
		for k, s := range r.Samples {
			vals[k] = m.value(s)
		}
		var first float64
		if i < len(r.Verdicts) {
			first = r.Verdicts[i].First
		}
		lo, hi := first*0.85, first*1.15
		for _, v := range vals {
			lo, hi = min(lo, v), max(hi, v)
		}
		if hi == lo {
			hi = lo + 1
		}
		y := func(v float64) int {
			return panel.Max.Y - int((v-lo)/(hi-lo)*float64(panel.Dy()-1)) - 1
		}
		fill(img, image.Rect(panel.Min.X, y(first*1.1), panel.Max.X, y(first*0.9)+1), color.RGBA{220, 245, 220, 255})
		frame(img, panel, color.RGBA{160, 160, 160, 255})
		if len(vals) < 2 {
			continue
		}
		x := func(k int) int { return panel.Min.X + k*(panel.Dx()-1)/(len(vals)-1) }
		for k := 1; k < len(vals); k++ {
			line(img, x(k-1), y(vals[k-1]), x(k), y(vals[k]), color.RGBA{30, 80, 200, 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

func frame(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	line(img, r.Min.X, r.Min.Y, r.Max.X-1, r.Min.Y, c)
	line(img, r.Min.X, r.Max.Y-1, r.Max.X-1, r.Max.Y-1, c)
	line(img, r.Min.X, r.Min.Y, r.Min.X, r.Max.Y-1, c)
	line(img, r.Max.X-1, r.Min.Y, r.Max.X-1, r.Max.Y-1, c)
}

// line draws from (x0, y0) to (x1, y1) (Bresenham), two pixels thick.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := 1, 1
	if x0 > x1 {
		sx = -1
	}
	if y0 > y1 {
		sy = -1
	}
	e := dx + dy
	for {
		img.SetRGBA(x0, y0, c)
		img.SetRGBA(x0, y0+1, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
