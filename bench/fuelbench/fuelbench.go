package fuelbench

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/isle-run/isle/internal/polite"
	"github.com/isle-run/isle/internal/repo"
)

// Slice is the fuel a guest gets each time its counter runs out: the same
// slice isle's kernel grants (polite.Slice).
const Slice = polite.Slice

// Options configures Overhead and Liveness. The zero value is a full run.
type Options struct {
	// Runs is how many counted runs each kernel makes each way; the
	// median is reported. Zero means 5, or 1 in quick mode.
	Runs int
	// Warmups is how many runs each way precede the counted ones and are
	// thrown away. Zero means 1, or none in quick mode; use -1 for none.
	Warmups int
	// Quick runs every kernel at a tiny size and Liveness for a short
	// window: a smoke test whose figures are not measurements.
	Quick bool
	// Kernels, when not empty, runs only the kernels with these names
	// (see KernelNames).
	Kernels []string
	// CacheDir holds built kernels and wazero's compilation cache. Empty
	// means isle/fuelbench under the user's cache directory.
	CacheDir string
	// Root is the isle repository, whose testdata/kernels holds the
	// kernels' sources. Empty means the nearest one at or above the
	// working directory, or else the one this package was built from.
	Root string
	// Progress, when set, receives a line per step. Nil stays quiet.
	Progress io.Writer
	// Slice is the fuel yield grants each time. Zero means Slice, what
	// isle grants; other values show how the cost splits between the
	// checks themselves and the yields.
	Slice int64
	// Diagnose adds two more ways to Overhead, to show where fuel's cost
	// goes: the rewritten module with a counter so full that it never
	// yields (the checks alone), and with a yield that refills the
	// counter without calling runtime.Gosched.
	Diagnose bool

	// Window is how long Liveness measures each way. Zero means 2 s, or
	// 300 ms in quick mode.
	Window time.Duration
	// GCs is how many times Liveness forces runtime.GC in each window.
	// Zero means 7, or 3 in quick mode.
	GCs int
	// Fresh runs Liveness in a child process of its own: a forced GC in a
	// program that has built up a large heap (as isle-bench has, after
	// its memory workloads) measures the heap, not the guests.
	Fresh bool
	// SkipUnmetered skips Liveness's run of uninstrumented guests in a
	// child process.
	SkipUnmetered bool
	// UnmeteredTimeout is how long that child may take before it is
	// killed and reported as frozen. Zero means 10 s, or 2 s in quick mode.
	UnmeteredTimeout time.Duration
}

func (o Options) withDefaults() (Options, error) {
	if o.Runs <= 0 {
		o.Runs = 5
		if o.Quick {
			o.Runs = 1
		}
	}
	switch {
	case o.Warmups < 0:
		o.Warmups = 0
	case o.Warmups == 0 && !o.Quick:
		o.Warmups = 1
	}
	if o.Slice <= 0 {
		o.Slice = Slice
	}
	if o.Window <= 0 {
		o.Window = 2 * time.Second
		if o.Quick {
			o.Window = 300 * time.Millisecond
		}
	}
	if o.GCs <= 0 {
		o.GCs = 7
		if o.Quick {
			o.GCs = 3
		}
	}
	if o.UnmeteredTimeout <= 0 {
		o.UnmeteredTimeout = 10 * time.Second
		if o.Quick {
			o.UnmeteredTimeout = 2 * time.Second
		}
	}
	if o.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		o.CacheDir = filepath.Join(dir, "isle", "fuelbench")
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o, nil
}

func (o Options) root() (string, error) {
	if o.Root != "" {
		if !isRoot(o.Root) {
			return "", fmt.Errorf("%s is not the isle repository: it has no testdata/kernels", o.Root)
		}
		return o.Root, nil
	}
	return findRoot()
}

// Range is the lowest and highest of a set of runs.
type Range struct{ Min, Max time.Duration }

// Spread holds the lowest and highest counted run of each way.
type Spread struct{ Base, Fuel, CloseOnDone Range }

// KernelResult is one kernel's timings, three ways.
type KernelResult struct {
	Name      string // short name, as in Options.Kernels
	Lang      string // "Go" or "C"
	What      string // what it computes, at the size it ran
	LoopHeavy bool   // hot loops without calls: the case WithCloseOnContextDone is slowest at
	Arg       string // the size argument it ran with

	// Median time of the _start call.
	Base        time.Duration // uninstrumented
	Fuel        time.Duration // rewritten by internal/fuel
	CloseOnDone time.Duration // uninstrumented, WithCloseOnContextDone(true)
	Spread      Spread
	Runs        int // counted runs per way

	// With Options.Diagnose only (else zero), median times of the
	// rewritten module with a counter that never runs out, and with a
	// yield that does not call runtime.Gosched.
	ChecksOnly, NoGosched time.Duration

	Output    string // the line every run printed
	FuelSpent int64  // fuel one instrumented run used
	// FuelVaries is set if the instrumented runs did not all use the same
	// fuel: the program's path depended on something other than its
	// input. The kernels run with the real clock here, as under isle run,
	// which a Go kernel's runtime reads to pace its garbage collector and
	// schedule goroutines, so its fuel may vary; under isle's virtual clock it does not (see
	// TestKernelsSpendTheSameFuel).
	FuelVaries bool
	Yields     int64 // times one instrumented run called yield

	WasmBytes, FuelWasmBytes int           // module sizes before and after the rewrite
	Rewrite                  time.Duration // how long internal/fuel.Instrument took

	// OtherCPU is the share of the machine's CPU time that other
	// processes used while this kernel ran (-1: unknown). Above a few
	// percent, its figures are noisy.
	OtherCPU float64
}

// FuelRatio is Fuel/Base: what fuel metering costs (1.05 is 5% slower).
func (k KernelResult) FuelRatio() float64 { return ratio(k.Fuel, k.Base) }

// CloseRatio is CloseOnDone/Fuel: how many times faster fuel is than
// WithCloseOnContextDone.
func (k KernelResult) CloseRatio() float64 { return ratio(k.CloseOnDone, k.Fuel) }

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// GeoMean returns the geometric means, over the kernels, of FuelRatio and
// of CloseRatio. loopHeavyClose is CloseRatio's over the loop-heavy
// kernels alone (NaN if there is none).
func GeoMean(over []KernelResult) (fuel, close, loopHeavyClose float64) {
	var f, c, lc []float64
	for _, k := range over {
		f = append(f, k.FuelRatio())
		c = append(c, k.CloseRatio())
		if k.LoopHeavy {
			lc = append(lc, k.CloseRatio())
		}
	}
	return geomean(f), geomean(c), geomean(lc)
}

func geomean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += math.Log(x)
	}
	return math.Exp(s / float64(len(xs)))
}

// LivenessFigures is what one Liveness window measured.
type LivenessFigures struct {
	Guests int // spinning guests during the window
	Ticks  int // ticks the 1 ms ticker delivered

	// How much later than 1 ms after the previous one each tick arrived.
	WorstTickerDelay time.Duration
	P99TickerDelay   time.Duration

	// Wall time of a forced runtime.GC(): a whole cycle, both
	// stop-the-world pauses and the concurrent mark between them.
	GCPause  time.Duration // the worst
	GCMedian time.Duration
	GCs      int

	// The longest stop-the-world pause the Go runtime recorded in the
	// window (runtime/metrics /sched/pauses/total/gc:seconds, as the upper
	// bound of its histogram bucket).
	STWMax time.Duration
}

// Unmetered is the outcome of running the spinning guests uninstrumented,
// in a child process.
type Unmetered struct {
	Ran     bool          // false if skipped
	Froze   bool          // the child was killed at Timeout without reporting
	Timeout time.Duration // how long it was given
	Started bool          // the child got as far as starting every guest
	Figures LivenessFigures
	Note    string // what went wrong, if the child failed otherwise
}

// LivenessResult is what Liveness measured.
type LivenessResult struct {
	// With 2×GOMAXPROCS instrumented guests spinning.
	LivenessFigures
	GOMAXPROCS int
	Window     time.Duration
	// Yields is how many times the guests yielded during the window, and
	// SliceTime the mean time a slice took: how long a guest can keep a P.
	Yields    int64
	SliceTime time.Duration

	Baseline LivenessFigures // no guests
	// GoSpin is the same number of goroutines spinning in Go code, which
	// the Go runtime preempts by itself: how live Go keeps a program
	// under the same load.
	GoSpin    LivenessFigures
	Unmetered Unmetered // the same guests uninstrumented

	// OtherCPU is the share of the machine's CPU time that other
	// processes used during the two windows (-1: unknown).
	OtherCPU float64
}

// Target is one of the goals fuel metering is measured against.
type Target struct {
	What   string
	Goal   float64
	Unit   string
	AtMost bool // the goal is an upper bound (else a lower one)
	Value  float64
}

// Met reports whether Value meets Goal.
func (t Target) Met() bool {
	if math.IsNaN(t.Value) {
		return false
	}
	if t.AtMost {
		return t.Value <= t.Goal
	}
	return t.Value >= t.Goal
}

// Targets returns fuel metering's goals and this run's values: a
// geometric-mean overhead of at most 15%, fuel at least 10× faster than
// WithCloseOnContextDone on loop-heavy kernels, and with guests spinning a
// ticker no more than 5 ms late and a forced GC within 5 ms. A part not
// measured (nil or zero) gives no target.
func Targets(over []KernelResult, live *LivenessResult) []Target {
	var ts []Target
	if len(over) > 0 {
		f, _, lc := GeoMean(over)
		ts = append(ts, Target{What: "fuel overhead, geometric mean over the kernels", Goal: 15, Unit: "%",
			AtMost: true, Value: (f - 1) * 100})
		if !math.IsNaN(lc) {
			ts = append(ts, Target{What: "fuel against WithCloseOnContextDone on loop-heavy kernels (geometric mean)",
				Goal: 10, Unit: "× faster", Value: lc})
		}
	}
	if live != nil && live.Guests > 0 {
		ts = append(ts,
			Target{What: fmt.Sprintf("worst 1 ms ticker lateness, %d guests spinning", live.Guests),
				Goal: 5, Unit: "ms", AtMost: true, Value: ms(live.WorstTickerDelay)},
			Target{What: fmt.Sprintf("forced GC, worst, %d guests spinning", live.Guests),
				Goal: 5, Unit: "ms", AtMost: true, Value: ms(live.GCPause)})
	}
	return ts
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func spread(ds []time.Duration) Range {
	if len(ds) == 0 {
		return Range{}
	}
	return Range{Min: slices.Min(ds), Max: slices.Max(ds)}
}

// kernelsMarker is a file only the isle repository's kernels have.
const kernelsMarker = "testdata/kernels/README.md"

func isRoot(dir string) bool { return repo.IsRoot(dir, kernelsMarker) }

// findRoot returns the isle repository that holds the kernels.
func findRoot() (string, error) { return repo.Root(kernelsMarker) }
