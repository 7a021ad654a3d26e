package bench

import (
	"flag"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/isle-run/isle/internal/testwasm"
)

// goGuestsChild is set in the test process TestQuickGoGuests starts
// without the race detector.
var goGuestsChild = flag.Bool("bench.goguests", false, "run TestQuickGoGuests's workloads here (set by its parent under -race)")

// goGuestWorkloads spawn Go guests; under the race detector TestQuick
// leaves them to TestQuickGoGuests.
var goGuestWorkloads = []string{"goreactor", "gocommand"}

// TestQuick runs the whole suite at its tiny size and checks that every
// row has numbers: isle's always, a peer's unless its tool is missing
// here, and that the report and plots are written. The fuel workload runs
// one kernel: bench/fuelbench's own tests run them all. Under the race
// detector the Go guest workloads are TestQuickGoGuests's.
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the quick benchmark suite")
	}
	ctx := testwasm.Context(t)
	start := time.Now()
	var log strings.Builder
	var only []string
	if testwasm.RaceEnabled() {
		for _, w := range Workloads() {
			if !slices.Contains(goGuestWorkloads, w.Name) {
				only = append(only, w.Name)
			}
		}
	}
	rep, err := Run(ctx, Options{Quick: true, Runs: 1, Log: &log, CacheDir: quickCache(t), FuelKernels: []string{"collatz"}, Only: only})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	t.Logf("quick suite took %v\n%s", time.Since(start).Round(time.Millisecond), log.String())
	_, noErlang := exec.LookPath("escript")
	checkRows(t, rep, noErlang != nil)
	wantRows := []string{"spawn", "CPU time per spawn", "user CPU time per spawn", "spawn latency mean", "page tables per idle process", "round trip", "throughput", "memory", "Go reactor: spawn", "Go reactor: private memory", "Go command (hello)", "ring", "fuel", "HTTP", "WASI fd_readdir", "WASI path_filestat_get", "governance", "restart", "metrics on vs off", "cluster: cross-node round trip", "cluster: throughput", "cluster: node down"}
	// spawn, round trip, throughput, memory; a Go reactor's spawn to first
	// reply and idle private memory from an image; a Go hello's spawn to
	// exit from an image; fuel overhead, fuel against
	// WithCloseOnContextDone, ticker and GC with guests spinning; the
	// governance workload's p99 of reactor latency, GC pause, forced GC
	// and ticker, and kill p99 and worst for two guests; restart against
	// Erlang's, when Erlang runs; round trip and throughput with metrics
	// on against off; cross-node round trip against raw NATS, cross-node
	// throughput, and node-down detection silent (p99) and clean; the
	// memory of sz.big reactors after one message, and after a rest that
	// follows; spawn p99 from Go, spawn p50 and p99 at sz.big, and a
	// reactor's memory after one message, right after and rested. With
	// Erlang, ratios to its figures: restart, CPU time per spawn at
	// sz.big, the ring of sz.ringTarget's laps and set-up, the round trip,
	// an idle reactor's memory, and throughput at each sender count.
	want := 32
	if noErlang == nil {
		want += 6 + len(quickSizes.senders)
	}
	// With a second core, throughput on all cores against one, at each
	// sender count.
	if runtime.GOMAXPROCS(0) >= 2 {
		want += len(quickSizes.senders)
		wantRows = append(wantRows, "cores vs one", "the second core, 1 sender")
	}
	if testwasm.RaceEnabled() {
		wantRows = slices.DeleteFunc(wantRows, func(s string) bool { return strings.HasPrefix(s, "Go ") })
		want -= 3
	}
	for _, n := range quickSizes.rings {
		wantRows = append(wantRows, "ring of "+count(n)+" processes")
	}
	for _, w := range wantRows {
		if !hasRow(rep, w) {
			t.Errorf("no row for %s", w)
		}
	}
	if len(rep.Targets) != want {
		t.Errorf("%d targets, want %d", len(rep.Targets), want)
	}
	dir := t.TempDir()
	md := filepath.Join(dir, "BENCHMARKS.md")
	if err := rep.Write(md, filepath.Join(dir, "bench", "plots")); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Plots {
		if !strings.Contains(string(text), "](bench/plots/"+p.File+")") {
			t.Errorf("BENCHMARKS.md does not embed %s", p.File)
		}
		svg, err := os.ReadFile(filepath.Join(dir, "bench", "plots", p.File))
		if err != nil || !strings.Contains(string(svg), "<polyline") {
			t.Errorf("plot %s: %v, no line drawn", p.File, err)
		}
	}
	if len(rep.Plots) != 3 {
		t.Errorf("%d plots, want 3", len(rep.Plots))
	}
}

// TestQuickGoGuests smoke-tests the Go guest workloads where TestQuick
// leaves them out: under the race detector, which makes each of their
// compilations of a Go module (isle's, the image's, bare wazero's) take
// about a minute. It runs them in a test process built without the
// detector.
func TestQuickGoGuests(t *testing.T) {
	switch {
	case testing.Short():
		t.Skip("runs the quick Go guest benchmarks")
	case testwasm.RaceEnabled():
		out := testwasm.GoOutsideRace(t, "test", "-count=1", "-v", "-run", "^TestQuickGoGuests$", "./bench", "-args", "-bench.goguests")
		if !strings.Contains(out, "--- PASS: TestQuickGoGuests") {
			t.Fatalf("the run without the race detector did not pass:\n%s", out)
		}
		return
	case !*goGuestsChild:
		t.Skip("TestQuick runs the Go guest workloads without the race detector")
	}
	var log strings.Builder
	rep, err := Run(testwasm.Context(t), Options{Quick: true, Runs: 1, Log: &log, CacheDir: quickCache(t), Only: goGuestWorkloads})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	_, noErlang := exec.LookPath("escript")
	checkRows(t, rep, noErlang != nil)
	for _, w := range []string{"Go reactor: spawn", "Go reactor: private memory", "Go command (hello)"} {
		if !hasRow(rep, w) {
			t.Errorf("no row for %s", w)
		}
	}
	if len(rep.Targets) != 3 {
		t.Errorf("%d targets, want 3", len(rep.Targets))
	}
}

// quickCache is the quick runs' fixture and compiled-module cache.
func quickCache(t *testing.T) string {
	return testwasm.KeyedDir(t, "bench", "github.com/isle-run/isle/bench")
}

// checkRows checks every row's figures; Erlang's may be missing when
// escript is.
func checkRows(t *testing.T, rep *Report, noErlang bool) {
	t.Helper()
	if len(rep.Rows) == 0 {
		t.Fatal("no rows")
	}
	for _, row := range rep.Rows {
		if row.Skip != "" {
			t.Errorf("%s: skipped: %s", row.Workload, row.Skip)
			continue
		}
		checkFigure(t, row, row.Isle, false)
		erlang := strings.HasPrefix(row.Peer.Name, "Erlang")
		checkFigure(t, row, row.Peer, erlang && noErlang)
		if row.Unit == "" {
			t.Errorf("%s: no unit", row.Workload)
		}
	}
}

// checkFigure checks that a figure has a number for every run. Memory
// figures at the quick sizes may round to zero pages, or below; a row may
// say that zero is a measurement.
func checkFigure(t *testing.T, row Row, f Figure, mayMiss bool) {
	t.Helper()
	workload := row.Workload
	if f.Skip != "" {
		if !mayMiss {
			t.Errorf("%s: %s: skipped: %s", workload, f.Name, f.Skip)
		}
		return
	}
	if len(f.Runs) == 0 {
		t.Errorf("%s: %s: no runs", workload, f.Name)
	}
	for _, v := range f.Runs {
		if math.IsNaN(v) || math.IsInf(v, 0) || (v <= 0 && row.Kind != Memory && !(v == 0 && row.ZeroOK)) {
			t.Errorf("%s: %s: run value %v", workload, f.Name, v)
		}
	}
}

func hasRow(r *Report, s string) bool {
	for _, row := range r.Rows {
		if strings.Contains(row.Workload, s) {
			return true
		}
	}
	return false
}

func TestStats(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median = %v", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median = %v", m)
	}
	xs := make([]float64, 100)
	for i := range xs {
		xs[i] = float64(100 - i)
	}
	if p := percentile(xs, 0.5); p != 50 {
		t.Errorf("p50 = %v", p)
	}
	if p := percentile(xs, 0.99); p != 99 {
		t.Errorf("p99 = %v", p)
	}
	for v, want := range map[float64]string{0.4123: "0.412", 18.24: "18.2", 2640: "2,640", 1234567: "1,234,567", 5: "5.00"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
	row := Row{Kind: Time, Isle: Figure{Runs: []float64{2}}, Peer: Figure{Runs: []float64{1}}}
	if got := ratio(row); got != "**2.00× slower**" {
		t.Errorf("ratio = %q", got)
	}
	row.Kind = Rate
	if got := ratio(row); got != "2.00× higher" {
		t.Errorf("ratio = %q", got)
	}
}

// TestFitsBig checks that a count no machine could hold is refused with
// the figures that refused it, and that no estimate is refused too.
func TestFitsBig(t *testing.T) {
	if _, err := os.Stat("/proc/meminfo"); err != nil {
		t.Skip("no /proc/meminfo here")
	}
	why := fitsBig(1_000_000, 1<<40)
	if !strings.Contains(why, "MemAvailable is") || !strings.Contains(why, "1M reactors") {
		t.Errorf("a million reactors of 1 TiB each: %q", why)
	}
	if why := fitsBig(1000, math.NaN()); !strings.Contains(why, "no estimate") {
		t.Errorf("no estimate: %q", why)
	}
}
