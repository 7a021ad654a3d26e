package bench

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// median returns the median of xs, or NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile returns the nearest-rank q-quantile of xs (0 < q <= 1), as
// the escripts compute it.
func percentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(len(s)-1, i))]
}

func spread(xs []float64) (lo, hi float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	return slices.Min(xs), slices.Max(xs)
}

// scale multiplies every value, for changing units.
func scale(xs []float64, k float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x * k
	}
	return out
}

// scaleFigs scales every figure's runs.
func scaleFigs(figs []Figure, k float64) []Figure {
	for i := range figs {
		figs[i].Runs = scale(figs[i].Runs, k)
	}
	return figs
}

// num formats a value with three significant figures, and thousands
// separators for large ones.
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v == 0:
		return "0"
	}
	a := math.Abs(v)
	if a >= 1000 {
		return group(strconv.FormatFloat(math.Round(v), 'f', 0, 64))
	}
	digits := 2 - int(math.Floor(math.Log10(a)))
	return strconv.FormatFloat(v, 'f', max(0, digits), 64)
}

// group puts commas between thousands in an integer string.
func group(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// figure formats a figure as "median (min–max)".
func figure(f Figure) string {
	if f.Skip != "" {
		return "skipped"
	}
	if len(f.Runs) == 0 {
		return "–"
	}
	m := num(f.Median())
	if len(f.Runs) == 1 {
		return m
	}
	lo, hi := spread(f.Runs)
	return fmt.Sprintf("%s (%s–%s)", m, num(lo), num(hi))
}

// ratio says how isle compares with the peer, in words.
func ratio(r Row) string {
	if !r.Isle.Measured() || !r.Peer.Measured() {
		return "–"
	}
	iv, pv := r.Isle.Median(), r.Peer.Median()
	if iv <= 0 || pv <= 0 {
		return "–"
	}
	better := iv < pv
	if r.Kind == Rate {
		better = iv > pv
	}
	x := iv / pv
	if x < 1 {
		x = 1 / x
	}
	words := map[Kind][2]string{
		Time:   {"faster", "slower"},
		Rate:   {"higher", "lower"},
		Memory: {"less memory", "more memory"},
	}[r.Kind]
	if x < 1.05 {
		return "about the same"
	}
	if better {
		return fmt.Sprintf("%s× %s", num(x), words[0])
	}
	return fmt.Sprintf("**%s× %s**", num(x), words[1])
}

// nums formats values with num, as a list: "1, 2 and 3".
func nums(vs []float64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = num(v)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
