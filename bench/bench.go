// Package bench measures isle beside its anchors: Erlang/OTP processes, OS
// processes (fork+exec, pipes), goroutines and bare wazero. Every figure in
// a Report comes from the run that made it; nothing is carried over.
//
// The workloads are spawn latency, message round trip, throughput with
// several senders, resident memory per idle process, a Go reactor's spawn
// and memory with and without an image, rings of processes of several
// sizes, CPU time per spawn and memory per process with a million alive,
// and a cluster of two nodes over NATS beside raw NATS. Each row of the
// report puts one isle figure beside one peer's, measured in the same run, with the median of several counted runs after
// a warm-up and the spread of those runs.
//
// `go run ./bench/cmd/isle-bench` runs the suite and writes BENCHMARKS.md
// and its plots; Run is the same thing as a library call.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/isle-run/isle"
)

// Options selects what a run measures and how.
type Options struct {
	// Root is the repository root, where the fixtures' sources are
	// (bench/wasm, bench/native, bench/erlang, sdk/c). Empty finds it from
	// the working directory.
	Root string
	// CacheDir keeps built fixtures and compiled modules between runs.
	// Empty uses the user's cache directory.
	CacheDir string
	// Quick runs every workload at a tiny size: a smoke test, not a
	// measurement.
	Quick bool
	// Only names the workloads to run (see Workloads); empty runs all.
	Only []string
	// Runs is how many counted runs make each figure, after one warm-up
	// run. Zero means 5, or 2 with Quick.
	Runs int
	// FuelKernels names the compute kernels the fuel workload runs (see
	// fuelbench.KernelNames); empty runs them all.
	FuelKernels []string
	// Log receives progress lines. Nil discards them.
	Log io.Writer
}

// Report is the outcome of a run.
type Report struct {
	Env     Env
	Rows    []Row
	Targets []Target
	Plots   []Plot
	// Elapsed is the wall time of the whole run.
	Elapsed time.Duration
	Quick   bool
	Runs    int
	Only    []string
	// OtherCPU is, per workload, the share of the machine's CPU time other
	// processes used while it ran (see Env.OtherCPU).
	OtherCPU []WorkloadCPU
	sz       sizes
}

// WorkloadCPU is how busy the rest of the machine was during a workload.
type WorkloadCPU struct {
	Workload string
	Other    float64
}

// Kind says what a row measures, which decides whether lower is better
// and how a ratio reads.
type Kind int

// Row kinds.
const (
	Time   Kind = iota // lower is better: faster
	Rate               // higher is better
	Memory             // lower is better: less memory
)

// Row puts one isle figure beside one peer's.
type Row struct {
	Workload string // such as "spawn latency p50"
	Unit     string // of both figures
	Kind     Kind
	Isle     Figure
	Peer     Figure
	// Note says where isle and the peer do not do the same work.
	Note string
	// Skip, when set, says why the whole row was not measured.
	Skip string
	// ZeroOK says a figure of zero is a measurement, not a failure to
	// measure: the collector took no mark assist, say.
	ZeroOK bool
}

// Figure is one subject's measurement: one value per counted run.
type Figure struct {
	Name string
	Runs []float64
	// Skip, when set, says why there are no runs.
	Skip string
}

// Median returns the median of the runs.
func (f Figure) Median() float64 { return median(f.Runs) }

// Measured reports whether the figure has numbers.
func (f Figure) Measured() bool { return f.Skip == "" && len(f.Runs) > 0 }

// Target is one of isle's goals, checked against this run's figure.
type Target struct {
	What  string
	Goal  float64
	Unit  string
	Kind  Kind
	Value Figure
}

// Met reports whether the figure reaches the goal.
func (t Target) Met() bool {
	if !t.Value.Measured() {
		return false
	}
	if t.Kind == Rate {
		return t.Value.Median() >= t.Goal
	}
	return t.Value.Median() <= t.Goal
}

// Workload is one named part of the suite.
type Workload struct {
	Name string
	What string
	run  func(*harness, *Report) error
}

// Workloads lists the suite in the order it runs.
func Workloads() []Workload {
	return []Workload{
		// First, while this process has had few goroutines: the Go
		// runtime keeps every goroutine it ever made and walks them at
		// each collection, so after the goroutine anchors below (a million
		// in spawn's) a forced GC costs about 30 ms of CPU instead of 1.5,
		// whatever isle does.
		{"governance", "the worst guests on every core: an unrelated reactor's latency, a forced GC, and kill latency", runGovernance},
		{"fuel", "fuel-metering overhead on compute kernels (not measured yet)", runFuel},
		{"spawn", "spawn latency p50/p99, from Go and guest to guest, and against live processes; CPU time per spawn up to a million live", runSpawn},
		{"roundtrip", "round trip of a 4-byte message between two processes", runRoundTrip},
		{"throughput", "messages per second from 1, 2 and 8 senders into one receiver", runThroughput},
		{"goreactor", "a Go reactor: spawn to first reply and private memory, with and without an image", runGoReactor},
		{"gocommand", "a Go hello command: spawn to exit, with and without an image", runGoCommand},
		{"ring", "rings of 1k, 10k and 100k processes passing a token 1M hops each", runRing},
		{"ingress", "key-value and HTTP ingress beside the same work in Go", runIngress},
		{"files", "WASI directory listing and a deep path's stat, beside bare wazero's WASI", runFiles},
		{"supervision", "restart of a crashed service under a one_for_one supervisor", runSupervision},
		{"metrics", "round trip and throughput with the admin endpoints scraped, against without", runMetrics},
		{"cluster", "two nodes over NATS: cross-node round trip and throughput beside raw NATS, and node-down detection", runCluster},
		{"memory", "resident memory per idle process at 1k, 10k, 100k and 1M, and page tables at 1M", runMemory},
	}
}

// Run measures the selected workloads and returns the report. A peer that
// cannot run here (Erlang missing, say) becomes a skipped figure with its
// reason; an isle failure is an error.
func Run(ctx context.Context, opts Options) (*Report, error) {
	start := time.Now()
	h, err := newHarness(ctx, opts)
	if err != nil {
		return nil, err
	}
	var selected []Workload
	all := Workloads()
	for _, name := range h.opts.Only {
		if !slices.ContainsFunc(all, func(w Workload) bool { return w.Name == name }) {
			return nil, fmt.Errorf("no workload %q; the workloads are %s", name, workloadNames())
		}
	}
	for _, w := range all {
		if len(h.opts.Only) == 0 || slices.Contains(h.opts.Only, w.Name) {
			selected = append(selected, w)
		}
	}
	cpu0 := sampleCPU()
	r := &Report{Quick: h.opts.Quick, Runs: h.opts.Runs, Only: h.opts.Only, sz: h.sz}
	for _, w := range selected {
		t := time.Now()
		h.logf("%s: %s", w.Name, w.What)
		c0 := sampleCPU()
		if err := w.run(h, r); err != nil {
			return nil, fmt.Errorf("%s: %w", w.Name, err)
		}
		if other := otherCPU(c0, sampleCPU()); other >= 0 && time.Since(t) > time.Second {
			r.OtherCPU = append(r.OtherCPU, WorkloadCPU{w.Name, other})
		}
		h.logf("%s: done in %v", w.Name, time.Since(t).Round(10*time.Millisecond))
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	r.Env = h.env
	r.Env.OtherCPU = otherCPU(cpu0, sampleCPU())
	r.Elapsed = time.Since(start)
	return r, nil
}

func workloadNames() string {
	var names []string
	for _, w := range Workloads() {
		names = append(names, w.Name)
	}
	return strings.Join(names, ", ")
}

// harness is what the workloads share during a run.
type harness struct {
	ctx    context.Context
	opts   Options
	sz     sizes
	env    Env
	build  *builder
	erlang erlangRunner
}

func newHarness(ctx context.Context, opts Options) (*harness, error) {
	if opts.Runs <= 0 {
		opts.Runs = 5
		if opts.Quick {
			opts.Runs = 2
		}
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Root == "" {
		root, err := FindRoot()
		if err != nil {
			return nil, err
		}
		opts.Root = root
	}
	if opts.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		opts.CacheDir = filepath.Join(dir, "isle", "bench")
	}
	h := &harness{ctx: ctx, opts: opts, sz: fullSizes}
	if opts.Quick {
		h.sz = quickSizes
	}
	h.build = &builder{root: opts.Root, dir: filepath.Join(opts.CacheDir, "build")}
	h.env = probeEnv(opts.Root)
	h.erlang = h.findErlang()
	if h.erlang.version != "" {
		h.env.Erlang = h.erlang.version
	}
	return h, nil
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.opts.Log, "bench: "+format+"\n", args...)
}

// repeat runs f once to warm up, then Runs times, and returns each of f's
// values across the counted runs: out[i] holds value i of every run.
func (h *harness) repeat(f func() ([]float64, error)) ([][]float64, error) {
	return h.repeatN(h.opts.Runs, f)
}

// repeatN is repeat with runs counted runs, for figures too slow to take
// Runs of.
func (h *harness) repeatN(runs int, f func() ([]float64, error)) ([][]float64, error) {
	if _, err := f(); err != nil {
		return nil, err
	}
	return h.repeatOnly(runs, f)
}

// repeatOnly is repeatN without the warm-up, for a figure whose code has
// just run at a smaller size.
func (h *harness) repeatOnly(runs int, f func() ([]float64, error)) ([][]float64, error) {
	var out [][]float64
	for range runs {
		if err := h.ctx.Err(); err != nil {
			return nil, err
		}
		vals, err := f()
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = make([][]float64, len(vals))
		}
		for i, v := range vals {
			out[i] = append(out[i], v)
		}
	}
	return out, nil
}

// peer measures a peer, turning a failure into a skipped figure: a peer
// that cannot run here must not cost the isle figures.
func (h *harness) peer(name string, n int, f func() ([]float64, error)) []Figure {
	figs := make([]Figure, n)
	for i := range figs {
		figs[i].Name = name
	}
	runs, err := h.repeat(f)
	if err == nil && len(runs) != n {
		err = fmt.Errorf("got %d values per run, want %d", len(runs), n)
	}
	if err != nil {
		h.logf("  %s: skipped: %v", name, err)
		for i := range figs {
			figs[i].Skip = err.Error()
		}
		return figs
	}
	for i := range figs {
		figs[i].Runs = runs[i]
	}
	return figs
}

// node starts a fresh isle node with the bench's compilation cache.
func (h *harness) node() (*isle.Node, error) {
	return isle.NewNode(h.ctx, isle.Config{CacheDir: filepath.Join(h.opts.CacheDir, "node")})
}

// load builds a fixture and loads it into node.
func (h *harness) load(node *isle.Node, fixture string) (*isle.Module, error) {
	path, err := h.build.wasm(fixture)
	if err != nil {
		return nil, err
	}
	return node.LoadModuleFile(h.ctx, path)
}

// reactorLimits bounds every lone benchmark reactor: 1 MiB for all the
// node holds for it.
var reactorLimits = isle.Limits{Memory: 1 << 20}

// treeLimits bound a benchmark reactor that spawns thousands of others:
// its tree shares one budget, so it gets none but the node's ceiling, and
// each child's linear memory is capped at kernel.DefaultChildMemory.
var treeLimits = isle.Limits{}

// sizes scales the workloads.
type sizes struct {
	spawnN      int   // spawns per run
	forkN       int   // fork+exec samples per run
	live        []int // live processes for the spawn-vs-live curve
	liveSamples int   // spawns timed at each live count
	roundTrips  int
	pipeTrips   int
	msgs        int   // messages per throughput run, over all senders
	senders     []int // sender counts
	batch       int   // messages an isle sender sends per turn
	idle        []int // idle processes for the memory figures
	osIdle      []int // idle OS processes
	rings       []int // ring sizes
	hops        int   // messages round each ring per run: laps = hops / size
	ringTarget  int   // the ring size the targets name, measured Options.Runs times
	ringRuns    int   // counted runs at the other ring sizes, at most Options.Runs
	big         int   // live processes for the CPU-per-spawn and memory rows at a million
	bigRuns     int   // counted runs of CPU per spawn at big, at most Options.Runs
	bigMemRuns  int   // counted runs of memory at big, at most Options.Runs
	restarts    int   // crashes per supervision run
	goReactors  int   // Go reactors spawned per goreactor run
	// The cluster workload's: timed cross-node calls, messages and
	// senders per throughput run, and nodes lost each way per run.
	crossTrips, crossMsgs, crossSenders, downVictims int
}

var fullSizes = sizes{
	spawnN: 8000, forkN: 1000,
	live: []int{0, 1000, 10000, 100000}, liveSamples: 1000,
	roundTrips: 1_000_000, pipeTrips: 100_000,
	msgs: 1_000_000, senders: []int{1, 2, 8}, batch: 64,
	idle: []int{1000, 10000, 100000}, osIdle: []int{100, 1000},
	rings: []int{1000, 10000, 100000}, hops: 1_000_000, ringTarget: 10000, ringRuns: 3,
	big: 1_000_000, bigRuns: 2, bigMemRuns: 1,
	restarts: 1000, goReactors: 200,
	crossTrips: 20000, crossMsgs: 1_000_000, crossSenders: 4, downVictims: 4,
}

var quickSizes = sizes{
	spawnN: 200, forkN: 10,
	live: []int{0, 200}, liveSamples: 50,
	roundTrips: 2000, pipeTrips: 500,
	msgs: 8000, senders: []int{1, 2, 8}, batch: 64,
	idle: []int{1000, 2000}, osIdle: []int{5},
	rings: []int{100, 1000}, hops: 2000, ringTarget: 1000, ringRuns: 1,
	// Erlang counts CPU time in 10 ms ticks: 4k spawns took less than one.
	big: 20000, bigRuns: 1, bigMemRuns: 1,
	restarts: 20, goReactors: 10,
	crossTrips: 500, crossMsgs: 4000, crossSenders: 4, downVictims: 1,
}
