package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Write writes the report as Markdown to mdPath and its plots into
// plotsDir, linked from the Markdown by relative path.
func (r *Report) Write(mdPath, plotsDir string) error {
	if err := writePlots(plotsDir, r.Plots); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(mdPath), plotsDir)
	if err != nil {
		rel = plotsDir
	}
	var b strings.Builder
	r.markdown(&b, filepath.ToSlash(rel))
	return os.WriteFile(mdPath, []byte(b.String()), 0o644)
}

// Table writes the results table alone, as Markdown.
func (r *Report) Table(w io.Writer) {
	fmt.Fprintln(w, "| workload | isle | peer | peer's figure | isle vs peer | note |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
	for _, row := range r.Rows {
		if row.Skip != "" {
			fmt.Fprintf(w, "| %s | not measured | – | – | – | %s |\n", row.Workload, row.Skip)
			continue
		}
		note := row.Note
		if row.Peer.Skip != "" {
			note = strings.TrimPrefix(note+"; ", "; ") + "peer skipped: " + row.Peer.Skip
		}
		fmt.Fprintf(w, "| %s (%s) | %s | %s | %s | %s | %s |\n", row.Workload, row.Unit, figure(row.Isle),
			row.Peer.Name, figure(row.Peer), ratio(row), cell(note))
	}
}

// TargetTable writes isle's targets against this run, as Markdown.
func (r *Report) TargetTable(w io.Writer) {
	fmt.Fprintln(w, "| target | goal | isle in this run | met |")
	fmt.Fprintln(w, "| --- | --- | --- | --- |")
	for _, t := range r.Targets {
		op := "≤"
		if t.Kind == Rate {
			op = "≥"
		}
		met := "**no**"
		if t.Met() {
			met = "yes"
		}
		fmt.Fprintf(w, "| %s | %s %s %s | %s %s | %s |\n", t.What, op, tick(t.Goal), t.Unit, figure(t.Value), t.Unit, met)
	}
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func (r *Report) markdown(w io.Writer, plots string) {
	e := r.Env
	fmt.Fprintln(w, "# isle benchmarks")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Measured by `go run ./bench/cmd/isle-bench%s` on %s, in %s. Every figure on this page comes from that one run; nothing is copied from elsewhere.\n",
		r.flags(), e.Date.Format("2006-01-02 15:04 MST"), r.Elapsed.Round(time.Second))
	worst := WorkloadCPU{Other: -1}
	for _, c := range r.OtherCPU {
		if c.Other > worst.Other {
			worst = c
		}
	}
	if busy := r.Env.OtherCPU; busy > 0.05 || worst.Other > 0.1 {
		during := ""
		if worst.Workload != "" {
			during = fmt.Sprintf(", and %.0f%% during the %s workload", worst.Other*100, worst.Workload)
		}
		fmt.Fprintf(w, "\n**The machine was not quiet: other processes used %.0f%% of its CPU time during the run%s. "+
			"They competed with both isle and its peers, so the figures they touched are noisier, and likely slower, than on a quiet machine.**\n",
			max(busy, 0)*100, during)
	}
	if r.Quick {
		fmt.Fprintln(w, "\n**This is a `--quick` run: every workload ran at a tiny size, as a smoke test. Its figures are not measurements.**")
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "To measure again: `go run ./bench/cmd/isle-bench` (everything; this file and `bench/plots/`), `go run ./bench/cmd/isle-bench --only spawn,roundtrip` (a subset, printed), `go run ./bench/cmd/isle-bench --quick` (a smoke test, printed).")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Machine")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| | |\n| --- | --- |")
	fmt.Fprintf(w, "| CPU | %s, %d logical cores (GOMAXPROCS %d) |\n", e.CPU, e.Cores, e.Cores)
	fmt.Fprintf(w, "| RAM | %.1f GiB |\n", float64(e.RAM)/(1<<30))
	fmt.Fprintf(w, "| OS | %s |\n", e.OS)
	fmt.Fprintf(w, "| Go | %s |\n", e.Go)
	fmt.Fprintf(w, "| wazero | %s |\n", e.Wazero)
	fmt.Fprintf(w, "| Erlang | %s |\n", e.Erlang)
	fmt.Fprintf(w, "| C | %s; native: %s |\n", e.Clang, e.CC)
	fmt.Fprintf(w, "| isle | commit %s |\n", e.Commit)
	other := "unknown"
	if e.OtherCPU >= 0 {
		other = fmt.Sprintf("%.1f%% of all CPU time went to other processes during the run", e.OtherCPU*100)
	}
	var by []string
	for _, c := range r.OtherCPU {
		by = append(by, fmt.Sprintf("%s %.0f%%", c.Workload, c.Other*100))
	}
	if len(by) > 0 {
		other += "; by workload: " + strings.Join(by, ", ")
	}
	fmt.Fprintf(w, "| Quiet? | load average %s at the start; %s |\n", e.Load, other)
	fmt.Fprintln(w)
	if len(r.Targets) > 0 {
		fmt.Fprintln(w, "## isle against its targets")
		fmt.Fprintln(w)
		r.TargetTable(w)
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "## Results")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Each figure is the median of %d counted runs after one warm-up run, with the lowest and highest run in brackets. "+
		"\"isle vs peer\" compares the medians; a bold entry is one where isle does worse. "+
		"Percentiles (p50, p99) are taken over all the spawns of one run, then the median is taken across runs.\n\n", r.Runs)
	r.Table(w)
	fmt.Fprintln(w)
	if len(r.Plots) > 0 {
		fmt.Fprintln(w, "## Plots")
		fmt.Fprintln(w)
		for _, p := range r.Plots {
			fmt.Fprintf(w, "![%s](%s/%s)\n\n", p.Title, plots, p.File)
		}
	}
	fmt.Fprint(w, r.sz.replacer().Replace(method))
}

// replacer fills the method text in with the sizes the run used.
func (sz sizes) replacer() *strings.Replacer {
	n := func(v int) string { return group(strconv.Itoa(v)) }
	list := func(vs []int) string {
		var s []string
		for _, v := range vs {
			s = append(s, n(v))
		}
		if len(s) < 2 {
			return strings.Join(s, "")
		}
		return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
	}
	return strings.NewReplacer(
		"{build}", BuildCommand(),
		"{spawnN}", n(sz.spawnN), "{forkN}", n(sz.forkN), "{liveSamples}", n(sz.liveSamples),
		"{roundTrips}", n(sz.roundTrips), "{pipeTrips}", n(sz.pipeTrips),
		"{msgs}", n(sz.msgs), "{senders}", strings.Replace(list(sz.senders), " and ", " or ", 1), "{batch}", n(sz.batch),
		"{idle}", list(sz.idle), "{osIdle}", list(sz.osIdle),
		"{rings}", list(sz.rings), "{hops}", n(sz.hops), "{ringLaps}", list(sz.ringLaps()), "{ringTarget}", n(sz.ringTarget),
		"{big}", n(sz.big), "{bigRuns}", plural(sz.bigRuns, "counted run"), "{bigMemRuns}", plural(sz.bigMemRuns, "counted run"),
		"{ringRuns}", plural(sz.ringRuns, "counted run"), "{goGuests}", n(sz.goReactors),
	)
}

// ringLaps returns the laps round each ring: the same hops at every size.
func (sz sizes) ringLaps() []int {
	var laps []int
	for _, n := range sz.rings {
		laps = append(laps, max(1, sz.hops/n))
	}
	return laps
}

func (r *Report) flags() string {
	var s string
	if r.Quick {
		s += " --quick"
	}
	if len(r.Only) > 0 {
		s += " --only " + strings.Join(r.Only, ",")
	}
	return s
}

// method says how each workload is measured and where isle and a peer do
// not do the same work. It describes the code, not results; the sizes in
// braces are filled in from the run.
const method = `## How it is measured

All workloads run one after another in one ` + "`isle-bench`" + ` process, so that nothing else competes for the two cores; the Erlang
peers run as escripts (` + "`bench/erlang/`" + `) with the BEAM's defaults (one scheduler per core), the OS-process peers as small C
programs (` + "`bench/native/`" + `), the Go peers in the same process as isle.

The isle fixtures are C reactors in ` + "`bench/wasm/`" + `, built without libc as the smallest sane reactor:

    {build}

That is one 64 KiB page of linear memory, a 4 KiB shadow stack, no ` + "`_initialize`" + `: a spawned reactor is idle until its first
message. Every isle process runs with ` + "`isle.Limits{Memory: 1 MiB}`" + `, which its children inherit, and the default mailbox of
1,024 messages. Modules are loaded as any module is, so they carry the fuel metering
the node's rewriter injects into every module. Processes are spawned with a context that never
ends, so no watcher is armed.

- **Spawn latency.** Each run spawns {spawnN} processes and keeps them alive to the end of the run, timing each spawn call alone;
  p50 and p99 are over those {spawnN}. *From Go*: ` + "`node.Spawn`" + ` of the tiny reactor. *Guest to guest*: a reactor
  (` + "`spawner.c`" + `, granted the real clock) times each ` + "`isle_spawn`" + ` with the WASI monotonic clock, which adds two
  host calls to each sample; the child then gets its init message and runs one turn, outside the timed call. Erlang times
  ` + "`spawn/1`" + ` of a fun that waits in ` + "`receive`" + `; a goroutine, the ` + "`go`" + ` statement; bare wazero,
  ` + "`InstantiateModule`" + ` of the same .wasm (without fuel instrumentation) with a default ` + "`ModuleConfig`" + ` and its
  imports stubbed: the engine isle runs on, used as its documentation shows, with no process table, handles or mailbox, but
  also without isle's pooled linear memories and shared module configuration. Fork+exec is timed from before ` + "`fork()`" + ` until the child's first byte arrives from its ` + "`main`" + `
  ({forkN} per run), a whole new address space, so more work than any of the others. *Against live processes*: the node (or BEAM, or
  Go runtime) first gets that many idle processes, then {liveSamples} more spawns are timed.
- **CPU time per spawn with {big} alive.** {big} spawns from Go into one node, each timed alone, all kept alive until the run
  ends. The node is sized for them (` + "`Config.MaxProcesses`" + `, ` + "`SpawnQuota`" + ` and ` + "`MaxMemory`" + ` raised: the default
  ceiling counts every 64 KiB linear memory at its size, touched or not). The CPU time is the whole ` + "`isle-bench`" + ` process's
  user and system time (` + "`getrusage(RUSAGE_SELF)`" + `) from the first spawn to the last, divided by the count: it includes the Go
  collector's work on the growing heap and the two clock reads round each spawn. Erlang's is the emulator's user and system
  time on all its threads (` + "`/proc/self/stat`" + `; ` + "`statistics(runtime)`" + ` counts user time only, and so leaves out the page
  faults its fresh process heaps take), from the first ` + "`spawn/1`" + ` until every process has reached its ` + "`receive`" + `. A second row
  gives the user part alone, on both sides; the kernel splits user from system time by sampling at its clock tick, so the
  split is exact only over runs of seconds, as at {big}. The Erlang
  escript raises its own ` + "`min_heap_size`" + ` first, so that the lists of samples and pids do not grow while timed, as the Go side
  allocates its slices first. Spawn latency p50, mean and p99 are over the same spawns. {bigRuns} per figure (fewer if
  ` + "`--runs`" + ` asks for fewer), after a warm-up at a tenth of the count, on both sides: at a million a run takes tens of seconds.
- **Message round trip.** Two reactors of ` + "`pingpong.c`" + ` trade a 4-byte message {roundTrips} times per run, inside the node
  (the host starts the volley with one call). Erlang trades a 4-byte binary in a tuple with the sender's pid; Go, a ` + "`[4]byte`" + `
  over two unbuffered channels; two OS processes, 4 bytes over two pipes ({pipeTrips} per run).
- **Throughput.** {msgs} messages of 4 bytes per run, split evenly among {senders} senders, into one receiver that counts them.
  isle's senders (` + "`tput.c`" + `) send {batch} messages per turn and then a message to themselves to carry on, so that they yield
  between batches as reactors should; a sender blocks when the sink's mailbox (1,024) is full. Erlang senders loop on ` + "`!`" + `
  into an unbounded mailbox; Go goroutines send into one channel of capacity 1,024; OS processes make one ` + "`write(2)`" + ` per
  message into one pipe, and the reader drains 64 KiB per ` + "`read(2)`" + `. The "all cores vs one" rows, and the targets that the second
  core helps, then take isle's runs in pairs, their order alternating: one on the node above, one on a second node made while
  ` + "`GOMAXPROCS`" + ` is 1, so that one worker runs every reactor, and run while it is 1 again. The "second core" rows set the
  ratio of each such pair beside Erlang's: its throughput on all schedulers against one (` + "`ERL_FLAGS=+S 1`" + `), in pairs of
  runs whose order alternates too, each run one escript with its own warm-up run.
- **Memory per idle process.** The growth of the whole OS process's resident set (VmRSS from ` + "`/proc/self/status`" + `, after
  ` + "`debug.FreeOSMemory`" + ` in Go, after a settle and ` + "`garbage_collect`" + ` in Erlang) while N ({idle}) idle processes are alive,
  divided by N. It counts everything each process costs: the isle kernel's own records and the linear memory pages touched. For
  isle it is measured three times: right after spawning (a reactor that never had a message has no instance yet), right after
  one call to each (made from several goroutines at once, which changes nothing a reactor keeps), and 3 s later, once the kernel
  has put to sleep the reactors that had no turn for a second, taking back their instances (no reactor keeps a call stack between
  turns: they run on their worker's). Erlang is given both by
  its own ` + "`erlang:memory(processes)`" + ` accounting (the row compared first) and by the
  BEAM's RSS growth, which undercounts at small N because its allocators already hold resident memory. OS processes are fewer ({osIdle}
  sleeping copies of a tiny C binary), and their figure is the mean of each one's VmRSS, which counts the shared C library pages in
  every process, and of their Pss, which divides shared pages among the processes sharing them.
  At {big} the isle node is sized as for the CPU figure; its figures come from {bigMemRuns}, with no warm-up of its own since the same code has
  just run at the smaller counts (at a million a run takes minutes, and the figures at smaller counts vary by well under 1% between runs); and the growth of the page
  tables (VmPTE in ` + "`/proc/self/status`" + `, which the resident set does not count) is reported beside the BEAM's. Before each run at {big} the memory
  it needs is estimated from what a reactor cost, resident and in page tables, at the largest smaller count, plus 25% and 1 GiB
  spare; when ` + "`/proc/meminfo`" + `'s MemAvailable is short of that, the figures after one message (or all of them) are skipped
  with the reason. The target for {big} reactors after one message is their total, resident and page tables.
- **Ring.** A coordinator process spawns the rest of a ring of {rings} processes, each holding a handle to the next (a pid in
  Erlang), then sends one empty token round it {ringLaps} times respectively: {hops} messages at every size, strictly one after
  another. The ring of {ringTarget}, which the targets name, has the usual counted runs; the others have {ringRuns} each,
  since a run takes seconds. The first lap is timed alone, on both sides, and reported beside the mean of the others: isle's
  reactors are born dormant, so its first lap also makes every reactor's instance, where Erlang's spawn made each process whole.
  Setting up the ring is reported too: it is one spawn fewer than the ring's size, from inside a process. isle's node
  for a ring is sized for it as for the CPU figure (the default quota of one process tree is 100,000 processes).
- **Targets against Erlang.** A target stated against Erlang (CPU time per spawn at {big}, the ring of {ringTarget} and its
  set-up, a restart) is the ratio of isle's median to Erlang's from the same run, and is left out when Erlang did not run.
- **Go guests.** {goGuests} spawns per run, each timed alone, on a fresh node. *Go reactor*: ` + "`examples/pingpong/pong`" + `
  (` + "`-buildmode=c-shared`" + `) spawned and called once; its private memory is the growth of RssAnon once all are idle.
  *Go command*: ` + "`testdata/go/hello`" + ` spawned and waited for, its stdout discarded. Each from an image made first with
  ` + "`PrepareImage`" + ` and with ` + "`Limits.NoImage`" + `, beside bare wazero instantiating the same module (running
  ` + "`_initialize`" + ` or ` + "`_start`" + `, with wazero's own WASI), and, for the command, the same program built for this
  machine and run with ` + "`os/exec`" + `.

- **Fuel.** Seven compute kernels (Go guests running the standard library's crypto/sha256, compress/flate,
  encoding/json and slices.Sort; C fannkuch, n-body and collatz) run three ways under bare wazero, timing only
  ` + "`_start`" + `: uninstrumented, rewritten with isle's fuel checks (and isle's yield policy), and uninstrumented
  under ` + "`WithCloseOnContextDone`" + `. Every run must print the same checksum. Liveness runs 2×GOMAXPROCS guests
  that spin with no calls and measures a 1 ms ticker's worst lateness and a forced ` + "`runtime.GC()`" + `, beside the
  same number of goroutines spinning in Go, no guests at all, and uninstrumented guests in a child process that
  is killed if it freezes.
- **Key-value and HTTP ingress.** A C reactor calls ` + "`kv_put`" + ` / ` + "`kv_get`" + ` through the ABI, beside the same
  bbolt store called from Go; a C reactor behind ` + "`isle.HTTPHandler`" + ` serves keep-alive clients on loopback beside
  a ` + "`net/http`" + ` handler doing the same work, under the same load generator, in alternating rounds.

## Where the comparison is not like for like

- The spawn figures for isle and Erlang keep every process alive; fork+exec lets each child exit, since holding thousands of OS
  processes would measure the OS's process table, not a spawn.
`
