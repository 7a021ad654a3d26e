package bench

import (
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/isle-run/isle/bench/fuelbench"
)

// runFuel compares compute kernels run with the fuel counter isle's
// rewriter injects against the same kernels under bare wazero, both
// uninstrumented and with WithCloseOnContextDone, then measures how live
// the process stays with guests spinning on every core.
func runFuel(h *harness, r *Report) error {
	o := fuelbench.Options{Quick: h.opts.Quick, Runs: h.opts.Runs, Progress: h.opts.Log,
		Kernels: h.opts.FuelKernels, CacheDir: filepath.Join(h.opts.CacheDir, "fuelbench")}
	over, err := fuelbench.Overhead(h.ctx, o)
	if err != nil {
		return err
	}
	const note = "only the _start call is timed; every run prints the same checksum"
	for _, k := range over {
		fuel := kernelRuns(k.Spread.Fuel, k.Fuel)
		what := "fuel: " + k.What
		r.Rows = append(r.Rows,
			Row{Workload: what, Unit: "ms", Kind: Time, Note: note,
				Isle: Figure{Name: "isle: rewritten with fuel checks", Runs: fuel},
				Peer: Figure{Name: "wazero: uninstrumented (cannot be preempted)", Runs: kernelRuns(k.Spread.Base, k.Base)}},
			Row{Workload: what, Unit: "ms", Kind: Time, Note: note,
				Isle: Figure{Name: "isle: rewritten with fuel checks", Runs: fuel},
				Peer: Figure{Name: "wazero: WithCloseOnContextDone", Runs: kernelRuns(k.Spread.CloseOnDone, k.CloseOnDone)}},
		)
	}
	geo, _, loopClose := fuelbench.GeoMean(over)
	r.Targets = append(r.Targets,
		Target{What: "fuel overhead, geometric mean over the kernels", Goal: 15, Unit: "%", Kind: Time, Value: one((geo - 1) * 100)},
		Target{What: "fuel vs WithCloseOnContextDone on loop-heavy kernels", Goal: 10, Unit: "× faster", Kind: Rate, Value: one(loopClose)})
	if math.IsNaN(loopClose) {
		r.Targets = r.Targets[:len(r.Targets)-1]
	}
	// Measured in a fresh process: by now this one has a large heap, and a
	// forced GC would measure that instead of the guests.
	o.Fresh = true
	live, err := fuelbench.Liveness(h.ctx, o)
	if err != nil {
		return err
	}
	guests := fmt.Sprintf("%d guests spinning on %d Ps", live.Guests, live.GOMAXPROCS)
	ms := func(d time.Duration) []float64 { return []float64{float64(d) / 1e6} }
	r.Rows = append(r.Rows,
		Row{Workload: "worst lateness of a 1 ms ticker, " + guests, Unit: "ms", Kind: Time,
			Isle: Figure{Name: "isle: fuel-metered guests", Runs: ms(live.WorstTickerDelay)},
			Peer: Figure{Name: "Go: as many goroutines spinning in Go code", Runs: ms(live.GoSpin.WorstTickerDelay)},
			Note: fmt.Sprintf("one %v window; with no guests at all: %.2f ms", live.Window, float64(live.Baseline.WorstTickerDelay)/1e6)},
		Row{Workload: "a forced runtime.GC(), worst, " + guests, Unit: "ms", Kind: Time,
			Isle: Figure{Name: "isle: fuel-metered guests", Runs: ms(live.GCPause)},
			Peer: Figure{Name: "Go: as many goroutines spinning in Go code", Runs: ms(live.GoSpin.GCPause)},
			Note: fmt.Sprintf("with no guests at all: %.2f ms; uninstrumented guests: %s", float64(live.Baseline.GCPause)/1e6, unmetered(live.Unmetered))},
	)
	r.Targets = append(r.Targets,
		Target{What: "ticker lateness with guests spinning", Goal: 5, Unit: "ms", Kind: Time, Value: one(float64(live.WorstTickerDelay) / 1e6)},
		Target{What: "forced GC with guests spinning", Goal: 5, Unit: "ms", Kind: Time, Value: one(float64(live.GCPause) / 1e6)})
	return nil
}

// kernelRuns turns a median and its range into runs whose median and range
// are the same, for the report's statistics.
func kernelRuns(rg fuelbench.Range, median time.Duration) []float64 {
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	return []float64{ms(rg.Min), ms(median), ms(rg.Max)}
}

func unmetered(u fuelbench.Unmetered) string {
	switch {
	case !u.Ran:
		return "not run"
	case u.Froze:
		return fmt.Sprintf("the process froze (killed after %v)", u.Timeout)
	}
	return fmt.Sprintf("%.1f ms", float64(u.Figures.GCPause)/1e6)
}

// one is a figure of a single value, for targets computed from medians.
func one(v float64) Figure { return Figure{Name: "isle", Runs: []float64{v}} }
