package fuelbench

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Markdown returns the results as a Markdown table with the columns
// workload, isle (fuel), anchor and ratio, header included, for
// BENCHMARKS.md. Each kernel gives two rows, against the uninstrumented
// module and against WithCloseOnContextDone; then come the geometric
// means, and the liveness figures against no guest and against
// uninstrumented guests. Times are medians with the lowest and highest
// run in brackets; a bold ratio is one where fuel does worse. Either
// argument may be empty (a zero LivenessResult gives no liveness rows).
func Markdown(over []KernelResult, live LivenessResult) string {
	var b strings.Builder
	b.WriteString("| workload | isle (fuel) | anchor | ratio |\n| --- | --- | --- | --- |\n")
	row := func(workload, isle, anchor, ratio string) {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", cell(workload), cell(isle), cell(anchor), cell(ratio))
	}
	for _, k := range over {
		w := fmt.Sprintf("%s (ms)", k.What)
		if k.OtherCPU > 0.05 {
			w += fmt.Sprintf(", while other processes used %.0f%% of the CPU", k.OtherCPU*100)
		}
		fuelFig := figure(k.Fuel, k.Spread.Fuel)
		row(w, fuelFig, "bare wazero, uninstrumented: "+figure(k.Base, k.Spread.Base), overhead(k.FuelRatio()))
		row(w, fuelFig, "bare wazero, `WithCloseOnContextDone(true)`: "+figure(k.CloseOnDone, k.Spread.CloseOnDone),
			faster(k.CloseRatio()))
		if k.ChecksOnly > 0 {
			row(w+", diagnosis: the checks alone, a counter that never runs out", msNum(k.ChecksOnly),
				"bare wazero, uninstrumented: "+msNum(k.Base), overhead(ratio(k.ChecksOnly, k.Base)))
		}
		if k.NoGosched > 0 {
			row(w+", diagnosis: yield refills without `runtime.Gosched`", msNum(k.NoGosched),
				"bare wazero, uninstrumented: "+msNum(k.Base), overhead(ratio(k.NoGosched, k.Base)))
		}
	}
	if len(over) > 0 {
		f, c, lc := GeoMean(over)
		n := strconv.Itoa(len(over))
		row("fuel overhead, geometric mean over "+n+" kernels (time ratio)", fmt.Sprintf("%.3f", f),
			"bare wazero, uninstrumented: 1", overhead(f))
		row("against `WithCloseOnContextDone`, geometric mean over "+n+" kernels (time ratio)", "1",
			fmt.Sprintf("bare wazero, `WithCloseOnContextDone(true)`: %.3g", c), faster(c))
		if !math.IsNaN(lc) {
			row("against `WithCloseOnContextDone`, geometric mean over the loop-heavy C kernels (time ratio)", "1",
				fmt.Sprintf("bare wazero, `WithCloseOnContextDone(true)`: %.3g", lc), faster(lc))
		}
	}
	if live.Ticks > 0 {
		g := live.Guests
		base := live.Baseline
		u := live.Unmetered
		spinning := fmt.Sprintf("%d guests spinning on %d Ps", g, live.GOMAXPROCS)
		if live.OtherCPU > 0.05 {
			spinning += fmt.Sprintf(", while other processes used %.0f%% of the CPU", live.OtherCPU*100)
		}
		row(fmt.Sprintf("worst lateness of a 1 ms ticker over %v, %s (ms)", live.Window, spinning),
			msFig(live.WorstTickerDelay), "no guest running: "+msFig(base.WorstTickerDelay),
			worse(live.WorstTickerDelay, base.WorstTickerDelay))
		if live.GoSpin.Ticks > 0 {
			row(fmt.Sprintf("worst lateness of a 1 ms ticker, %s (ms)", spinning), msFig(live.WorstTickerDelay),
				fmt.Sprintf("%d goroutines spinning in Go code instead: %s", g, msFig(live.GoSpin.WorstTickerDelay)),
				worse(live.WorstTickerDelay, live.GoSpin.WorstTickerDelay))
		}
		if u.Ran {
			row(fmt.Sprintf("worst lateness of a 1 ms ticker, %s (ms)", spinning), msFig(live.WorstTickerDelay),
				"the same guests uninstrumented: "+unmetered(u, u.Figures.WorstTickerDelay),
				unmeteredRatio(u, live.WorstTickerDelay, u.Figures.WorstTickerDelay))
		}
		row(fmt.Sprintf("p99 lateness of a 1 ms ticker, %s (ms)", spinning), msFig(live.P99TickerDelay),
			"no guest running: "+msFig(base.P99TickerDelay), worse(live.P99TickerDelay, base.P99TickerDelay))
		row(fmt.Sprintf("forced `runtime.GC()`, worst of %d, %s (ms)", live.GCs, spinning),
			fmt.Sprintf("%s (median %s)", msFig(live.GCPause), msFig(live.GCMedian)),
			fmt.Sprintf("no guest running: %s (median %s)", msFig(base.GCPause), msFig(base.GCMedian)),
			worse(live.GCPause, base.GCPause))
		if live.GoSpin.GCs > 0 {
			row(fmt.Sprintf("forced `runtime.GC()`, worst of %d, %s (ms)", live.GCs, spinning), msFig(live.GCPause),
				fmt.Sprintf("%d goroutines spinning in Go code instead: %s (median %s)", g,
					msFig(live.GoSpin.GCPause), msFig(live.GoSpin.GCMedian)),
				worse(live.GCPause, live.GoSpin.GCPause))
		}
		if u.Ran {
			row(fmt.Sprintf("forced `runtime.GC()`, %s (ms)", spinning), msFig(live.GCPause),
				"the same guests uninstrumented: "+unmetered(u, u.Figures.GCPause),
				unmeteredRatio(u, live.GCPause, u.Figures.GCPause))
		}
		row(fmt.Sprintf("longest GC stop-the-world pause, %s (ms)", spinning), "≤ "+msFig(live.STWMax),
			"no guest running: ≤ "+msFig(base.STWMax), worse(live.STWMax, base.STWMax))
		if live.SliceTime > 0 {
			row(fmt.Sprintf("mean time a guest holds a P between yields, slice of %s fuel (µs)", commas(Slice)),
				fmt.Sprintf("%.3g", float64(live.SliceTime)/float64(time.Microsecond)), "–", "–")
		}
	}
	return b.String()
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// figure formats a median and its range in milliseconds.
func figure(med time.Duration, r Range) string {
	if r.Min == r.Max {
		return msNum(med)
	}
	return fmt.Sprintf("%s (%s–%s)", msNum(med), msNum(r.Min), msNum(r.Max))
}

func msFig(d time.Duration) string { return msNum(d) }

// msNum formats a duration in milliseconds to three significant digits.
func msNum(d time.Duration) string {
	v := ms(d)
	switch {
	case v == 0:
		return "0"
	case v >= 1000:
		return commas(int64(math.Round(v)))
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// overhead formats Fuel/Base: "+6.1% time", bold when fuel is slower.
func overhead(r float64) string {
	if math.IsNaN(r) {
		return "–"
	}
	s := fmt.Sprintf("%+.1f%% time", (r-1)*100)
	if r > 1 {
		return "**" + s + "**"
	}
	return s
}

// faster formats anchor/isle for an anchor that is slower.
func faster(r float64) string {
	if math.IsNaN(r) {
		return "–"
	}
	if r < 1 {
		return fmt.Sprintf("**%.3g× slower**", 1/r)
	}
	return fmt.Sprintf("%.3g× faster", r)
}

// worse formats isle/anchor for a figure where lower is better.
func worse(isle, anchor time.Duration) string {
	switch {
	case anchor <= 0 && isle <= 0:
		return "–"
	case anchor <= 0:
		return "**" + msNum(isle-anchor) + " ms more**"
	}
	r := float64(isle) / float64(anchor)
	if r > 1 {
		return fmt.Sprintf("**%.3g× longer**", r)
	}
	return fmt.Sprintf("%.3g× shorter", 1/r)
}

func unmetered(u Unmetered, d time.Duration) string {
	switch {
	case u.Froze:
		return fmt.Sprintf("froze: the child process had to be killed after %v", u.Timeout)
	case u.Note != "":
		return "not measured: " + u.Note
	}
	return msFig(d)
}

func unmeteredRatio(u Unmetered, isle, anchor time.Duration) string {
	switch {
	case u.Froze:
		return "fuel: responsive; uninstrumented: frozen"
	case u.Note != "":
		return "–"
	}
	return worse(isle, anchor)
}
