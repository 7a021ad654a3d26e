package fuelbench

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/testwasm"
)

// testOptions keeps the kernels and their compiled code in a cache that
// outlives the run, keyed by this package's code, and sends progress to
// the test log when -v is given. Under the race detector the kernels are
// compiled by a helper built without it.
func testOptions(tb testing.TB, quick bool) Options {
	tb.Helper()
	o := Options{Quick: quick, CacheDir: testwasm.KeyedDir(tb, "fuelbench", "github.com/isle-run/isle/bench/fuelbench")}
	if testing.Verbose() {
		o.Progress = os.Stderr
	}
	if testwasm.RaceEnabled() {
		testwasm.RunOutsideRace(tb, "./bench/fuelbench/precompile", "-cache", o.CacheDir)
	}
	return o
}

func needTools(tb testing.TB) {
	tb.Helper()
	for _, tool := range []string{"go", "clang"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skipf("%s is not installed: the kernels cannot be built", tool)
		}
	}
}

// TestQuick runs Overhead and Liveness at tiny sizes and checks that what
// they report is sane. Overhead itself fails if any run of a kernel, in
// any of the ways, printed a different line from the others.
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and compiles seven kernels and spins guests for seconds")
	}
	needTools(t)
	t.Parallel()
	ctx := testwasm.Context(t)
	start := time.Now()
	o := testOptions(t, true)
	o.Diagnose = true
	over, err := Overhead(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(over) != len(kernels) {
		t.Fatalf("%d results for %d kernels", len(over), len(kernels))
	}
	for i, k := range over {
		if k.Name != kernels[i].name {
			t.Errorf("result %d is %s, want %s", i, k.Name, kernels[i].name)
		}
		for what, d := range map[string]time.Duration{
			"Base": k.Base, "Fuel": k.Fuel, "CloseOnDone": k.CloseOnDone,
			"Base min": k.Spread.Base.Min, "Fuel min": k.Spread.Fuel.Min, "CloseOnDone min": k.Spread.CloseOnDone.Min,
			"ChecksOnly": k.ChecksOnly, "NoGosched": k.NoGosched,
		} {
			if d <= 0 {
				t.Errorf("%s: %s is %v", k.Name, what, d)
			}
		}
		if !strings.HasPrefix(k.Output, k.Name+" ") || strings.Contains(k.Output, "MISMATCH") {
			t.Errorf("%s printed %q", k.Name, k.Output)
		}
		if k.FuelSpent <= 0 || k.FuelWasmBytes <= 0 || k.WasmBytes <= 0 {
			t.Errorf("%s: fuel spent %d, sizes %d -> %d", k.Name, k.FuelSpent, k.WasmBytes, k.FuelWasmBytes)
		}
		t.Logf("%-8s %q: base %v, fuel %v (%.2f×), close-on-done %v; %d yields, %d fuel (varies: %v)",
			k.Name, k.Output, k.Base, k.Fuel, k.FuelRatio(), k.CloseOnDone, k.Yields, k.FuelSpent, k.FuelVaries)
	}
	// Known answers: fannkuch-redux(7) is 228 with 16 flips at most; the
	// n-body energy before any step is -0.169075164.
	for _, k := range over {
		switch k.Name {
		case "fannkuch":
			if k.Output != "fannkuch 7 228 16" {
				t.Errorf("fannkuch printed %q, want the known answer %q", k.Output, "fannkuch 7 228 16")
			}
		case "nbody":
			if !strings.HasPrefix(k.Output, "nbody 10000 -0.169075164 ") {
				t.Errorf("nbody printed %q, want the known initial energy -0.169075164", k.Output)
			}
		}
	}

	live, err := Liveness(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("liveness: %+v", live)
	for what, f := range map[string]LivenessFigures{"with guests": live.LivenessFigures, "baseline": live.Baseline, "Go spinning": live.GoSpin} {
		if f.Ticks <= 0 || f.GCs <= 0 || f.GCPause <= 0 || f.GCMedian <= 0 {
			t.Errorf("%s: %+v", what, f)
		}
	}
	if live.Guests != 2*live.GOMAXPROCS || live.Yields <= 0 || live.SliceTime <= 0 {
		t.Errorf("guests %d on %d Ps yielded %d times, %v a slice", live.Guests, live.GOMAXPROCS, live.Yields, live.SliceTime)
	}
	// Not the targets: a quick run measures nothing, and on a machine
	// that other processes keep busy (go test ./... runs packages in
	// parallel) the OS alone can delay a thread by a hundred ms. But with
	// instrumented guests spinning, the program must keep running: ticks
	// arrive and every forced GC completes.
	if live.Ticks < 5 || live.GCs != 3 {
		t.Errorf("with instrumented guests spinning, %d ticks arrived in %v and %d of 3 GCs completed",
			live.Ticks, live.Window, live.GCs)
	}
	if u := live.Unmetered; !u.Ran || (!u.Froze && u.Note == "" && u.Figures.Ticks == 0) {
		t.Errorf("uninstrumented child: %+v", u)
	}
	md := Markdown(over, live)
	if n := strings.Count(md, "\n"); n < 2+4*len(over)+3+7 {
		t.Errorf("Markdown has %d lines:\n%s", n, md)
	}
	t.Logf("whole quick run: %v\n%s", time.Since(start), md)
}

// TestKernelsSpendTheSameFuel runs every kernel twice through isle, with
// the virtual clock a process gets unless it is granted the real one (and
// which isle run --deterministic gives), and
// checks that both runs spend the same fuel and print the same line: the
// determinism README.md claims, under the condition it states. (With the
// real clock a Go kernel's runtime reads it to pace its garbage collector
// and schedule goroutines, and its fuel varies from run to run: json's by
// 0.3% when this test was written, and still by 0.07% with GOGC=off.)
func TestKernelsSpendTheSameFuel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs seven kernels twice each")
	}
	needTools(t)
	t.Parallel()
	ctx := testwasm.Context(t)
	root, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	o, err := Options{CacheDir: testwasm.KeyedDir(t, "fuelbench", "github.com/isle-run/isle/bench/fuelbench")}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	paths := make([]string, len(kernels))
	for i, k := range kernels {
		if paths[i], err = k.buildFile(ctx, root, o); err != nil {
			t.Fatal(err)
		}
	}
	if testwasm.RaceEnabled() {
		testwasm.Precompile(t, paths...)
	}
	node, err := isle.NewNode(ctx, isle.Config{CacheDir: testwasm.NodeCache(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close(context.Background())
	for i, k := range kernels {
		mod, err := node.LoadModuleFile(ctx, paths[i])
		if err != nil {
			t.Fatal(err)
		}
		run := func() (int64, string) {
			var out bytes.Buffer
			p, err := node.Spawn(ctx, mod, isle.Grants{Args: k.args(k.quick), Stdout: &out}, isle.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if exit, err := p.Wait(ctx); err != nil || !exit.Normal() {
				t.Fatalf("%s: %v, %v", k.name, exit, err)
			}
			return p.Stats().Fuel, out.String()
		}
		fuel1, out1 := run()
		fuel2, out2 := run()
		if fuel1 != fuel2 || out1 != out2 || fuel1 == 0 {
			t.Errorf("%s under the virtual clock: fuel %d then %d, output %q then %q", k.name, fuel1, fuel2, out1, out2)
		}
		t.Logf("%s: %d fuel, twice", k.name, fuel1)
	}
}

// TestSpinWasm checks the hand-assembled spinning guest against its WAT
// source, when wat2wasm is installed, and that wazero accepts it.
func TestSpinWasm(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	if _, err := rt.CompileModule(ctx, spinWasm); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		t.Skip("wat2wasm is not installed")
	}
	out := filepath.Join(t.TempDir(), "spin.wasm")
	root, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command("wat2wasm", filepath.Join(root, "testdata", "kernels", "spin.wat"), "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, msg)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(spinWasm, want) {
		t.Fatalf("spinWasm differs from spin.wat:\n got % x\nwant % x", spinWasm, want)
	}
}

// TestMarkdown checks the table's shape on made-up figures.
func TestMarkdown(t *testing.T) {
	over := []KernelResult{
		{Name: "a", What: "kernel a", Base: 100 * time.Millisecond, Fuel: 110 * time.Millisecond, CloseOnDone: 300 * time.Millisecond},
		{Name: "b", What: "kernel b", LoopHeavy: true, Base: 200 * time.Millisecond, Fuel: 190 * time.Millisecond, CloseOnDone: 4 * time.Second},
	}
	live := LivenessResult{
		LivenessFigures: LivenessFigures{Guests: 4, Ticks: 2000, WorstTickerDelay: 300 * time.Microsecond,
			GCPause: 2 * time.Millisecond, GCMedian: time.Millisecond, GCs: 7, STWMax: 100 * time.Microsecond},
		GOMAXPROCS: 2, Window: 2 * time.Second, SliceTime: time.Microsecond,
		Baseline:  LivenessFigures{Ticks: 2000, WorstTickerDelay: 100 * time.Microsecond, GCPause: time.Millisecond, GCMedian: time.Millisecond, GCs: 7},
		Unmetered: Unmetered{Ran: true, Froze: true, Timeout: 10 * time.Second},
	}
	md := Markdown(over, live)
	t.Log("\n" + md)
	lines := strings.Split(strings.TrimSpace(md), "\n")
	for _, l := range lines {
		if strings.Count(l, " | ") != 3 || !strings.HasPrefix(l, "| ") || !strings.HasSuffix(l, " |") {
			t.Errorf("not 4 columns: %s", l)
		}
	}
	for _, want := range []string{"**+10.0% time**", "-5.0% time", "2.73× faster", "21.1× faster", "froze"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	f, c, lc := GeoMean(over)
	if f < 1.02 || f > 1.03 || lc < 21 || lc > 21.1 || c < 7 || c > 8 {
		t.Errorf("GeoMean = %v, %v, %v", f, c, lc)
	}
	ts := Targets(over, &live)
	if len(ts) != 4 || !ts[0].Met() || !ts[1].Met() || !ts[2].Met() || !ts[3].Met() {
		t.Errorf("Targets = %+v", ts)
	}
}

// BenchmarkOverhead runs the full Overhead and reports, per kernel, each
// way's median time in ms beside the others and the ratios; then the
// geometric means.
func BenchmarkOverhead(b *testing.B) {
	needTools(b)
	var over []KernelResult
	for range b.N {
		var err error
		if over, err = Overhead(context.Background(), testOptions(b, false)); err != nil {
			b.Fatal(err)
		}
	}
	for _, k := range over {
		b.ReportMetric(ms(k.Base), k.Name+":base-ms")
		b.ReportMetric(ms(k.Fuel), k.Name+":fuel-ms")
		b.ReportMetric(ms(k.CloseOnDone), k.Name+":close-on-done-ms")
		b.ReportMetric(k.FuelRatio(), k.Name+":fuel/base")
		b.ReportMetric(k.CloseRatio(), k.Name+":close-on-done/fuel")
	}
	f, c, lc := GeoMean(over)
	b.ReportMetric(f, "geomean:fuel/base")
	b.ReportMetric(c, "geomean:close-on-done/fuel")
	b.ReportMetric(lc, "geomean-loop-heavy:close-on-done/fuel")
	b.ReportMetric(0, "ns/op")
	b.Log("\n" + Markdown(over, LivenessResult{}))
}

// BenchmarkLiveness runs the full Liveness and reports each figure with
// instrumented guests spinning beside the same with no guest.
func BenchmarkLiveness(b *testing.B) {
	var live LivenessResult
	for range b.N {
		var err error
		if live, err = Liveness(context.Background(), testOptions(b, false)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(ms(live.WorstTickerDelay), "tick-late-worst:fuel-ms")
	b.ReportMetric(ms(live.Baseline.WorstTickerDelay), "tick-late-worst:no-guest-ms")
	b.ReportMetric(ms(live.GoSpin.WorstTickerDelay), "tick-late-worst:go-spin-ms")
	b.ReportMetric(ms(live.GoSpin.GCPause), "gc-worst:go-spin-ms")
	b.ReportMetric(ms(live.P99TickerDelay), "tick-late-p99:fuel-ms")
	b.ReportMetric(ms(live.Baseline.P99TickerDelay), "tick-late-p99:no-guest-ms")
	b.ReportMetric(ms(live.GCPause), "gc-worst:fuel-ms")
	b.ReportMetric(ms(live.Baseline.GCPause), "gc-worst:no-guest-ms")
	b.ReportMetric(ms(live.GCMedian), "gc-median:fuel-ms")
	b.ReportMetric(ms(live.Baseline.GCMedian), "gc-median:no-guest-ms")
	b.ReportMetric(ms(live.STWMax), "stw-max:fuel-ms")
	b.ReportMetric(ms(live.Baseline.STWMax), "stw-max:no-guest-ms")
	b.ReportMetric(float64(live.SliceTime)/float64(time.Microsecond), "slice-µs")
	froze := 0.0
	if live.Unmetered.Froze {
		froze = 1
	}
	b.ReportMetric(froze, "uninstrumented-froze")
	b.ReportMetric(0, "ns/op")
	b.Log("\n" + Markdown(nil, live))
}
