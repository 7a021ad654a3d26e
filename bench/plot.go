package bench

import (
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Plot is a line chart over categories (process counts, sender counts),
// with a logarithmic y axis. Each point is a run median with a bar for the
// spread of the runs.
type Plot struct {
	File       string // file name, such as "memory.svg"
	Title      string
	XLabel     string
	YLabel     string
	Categories []string
	Series     []Series
}

// Series is one subject's line.
type Series struct {
	Name   string
	Points []Point // one per category
}

// Point is a median and its spread. NaN means no value.
type Point struct{ Y, Lo, Hi float64 }

// add appends a figure's median and spread, or a gap when it has none.
func (s *Series) add(f Figure) {
	if !f.Measured() {
		s.Points = append(s.Points, Point{math.NaN(), math.NaN(), math.NaN()})
		return
	}
	lo, hi := spread(f.Runs)
	s.Points = append(s.Points, Point{f.Median(), lo, hi})
}

// gap appends a category with no value.
func (s *Series) gap() { s.add(Figure{}) }

var palette = []string{"#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"}

// SVG draws the plot.
func (p Plot) SVG() string {
	const (
		w, hgt               = 720.0, 400.0
		left, right, top, bt = 70.0, 230.0, 40.0, 55.0
	)
	pw, ph := w-left-right, hgt-top-bt
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range p.Series {
		for _, pt := range s.Points {
			for _, v := range []float64{pt.Y, pt.Lo, pt.Hi} {
				if v > 0 && !math.IsNaN(v) {
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
			}
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 1, 10
	}
	d0, d1 := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if d1 <= d0 {
		d1 = d0 + 1
	}
	y := func(v float64) float64 { return top + ph - (math.Log10(v)-d0)/(d1-d0)*ph }
	n := len(p.Categories)
	x := func(i int) float64 {
		if n <= 1 {
			return left + pw/2
		}
		return left + pw*(0.05+0.9*float64(i)/float64(n-1))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n", w, hgt, w, hgt)
	fmt.Fprintf(&b, `<rect width="%g" height="%g" fill="white"/>`+"\n", w, hgt)
	fmt.Fprintf(&b, `<text x="%g" y="22" font-size="15" text-anchor="middle">%s</text>`+"\n", left+pw/2, esc(p.Title))
	// Grid: every decade labelled, 2 and 5 faint.
	for d := d0; d <= d1; d++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, d)
			if d == d1 && m > 1 {
				break
			}
			yy := y(v)
			if m == 1 {
				fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#ccc"/>`+"\n", left, left+pw, yy, yy)
				fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end" dy="4">%s</text>`+"\n", left-6, yy, esc(tick(v)))
			} else {
				fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", left, left+pw, yy, yy)
			}
		}
	}
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#333"/>`+"\n", left, top, pw, ph)
	for i, c := range p.Categories {
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", x(i), top+ph+18, esc(c))
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">%s</text>`+"\n", left+pw/2, hgt-12, esc(p.XLabel))
	fmt.Fprintf(&b, `<text transform="translate(16 %g) rotate(-90)" text-anchor="middle">%s</text>`+"\n", top+ph/2, esc(p.YLabel))
	for si, s := range p.Series {
		col := palette[si%len(palette)]
		var path []string
		for i, pt := range s.Points {
			if math.IsNaN(pt.Y) || pt.Y <= 0 {
				continue
			}
			path = append(path, fmt.Sprintf("%.1f,%.1f", x(i), y(pt.Y)))
			if pt.Hi > pt.Lo && pt.Lo > 0 {
				fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x(i), x(i), y(pt.Lo), y(pt.Hi), col)
			}
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s: %s</title></circle>`+"\n",
				x(i), y(pt.Y), col, esc(s.Name), esc(num(pt.Y)))
		}
		if len(path) > 1 {
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(path, " "), col)
		}
		ly := top + 10 + float64(si)*20
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%g" y2="%g" stroke="%s" stroke-width="2"/>`+"\n", left+pw+12, left+pw+32, ly, ly, col)
		fmt.Fprintf(&b, `<text x="%g" y="%g" dy="4">%s</text>`+"\n", left+pw+38, ly, esc(s.Name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func esc(s string) string { return html.EscapeString(s) }

// tick labels a power of ten: 0.01, 1, 1,000.
func tick(v float64) string {
	if v >= 1000 {
		return num(v)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// writePlots writes every plot into dir.
func writePlots(dir string, plots []Plot) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, p := range plots {
		if err := os.WriteFile(filepath.Join(dir, p.File), []byte(p.SVG()), 0o644); err != nil {
			return err
		}
	}
	return nil
}
