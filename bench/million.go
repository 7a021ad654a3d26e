package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/isle-run/isle"
)

// The rows at a million live processes (sz.big): CPU time per spawn, and
// resident memory and page tables per process, beside Erlang at the same
// count. Each counted run takes tens of seconds, so these figures use
// sz.bigRuns or sz.bigMemRuns counted runs instead of Options.Runs, after
// a warm-up at a tenth of the count (see repeatBig) or right after the
// memory figures at smaller counts.

// runSpawnCPU spawns sz.big tiny reactors into one node, keeping them all
// alive, and reports the process's CPU time per spawn and the spawn
// latency, beside Erlang spawning as many processes that wait in receive.
func runSpawnCPU(h *harness, r *Report) error {
	n, runs := h.sz.big, h.runs(h.sz.bigRuns)
	t := time.Now()
	isleRuns, err := h.repeatBig(runs, h.isleSpawnCPU)
	if err != nil {
		return fmt.Errorf("isle spawn CPU at %s: %w", count(n), err)
	}
	h.logf("  isle: %s spawns, %d counted runs and a warm-up at %s, in %v", count(n), runs, count(n/10), time.Since(t).Round(time.Second))
	t = time.Now()
	res, eerr := h.erlang.runFor(h, 10*time.Minute, "spawncpu.escript", strconv.Itoa(runs), strconv.Itoa(n), strconv.Itoa(n/10))
	h.logf("  Erlang: the same in %v", time.Since(t).Round(time.Second))
	erl := scaleFigs(erlangFigures("Erlang `spawn/1` of a process waiting in `receive`", res, eerr,
		"cpu_ns", "p50_ns", "mean_ns", "p99_ns", "user_ns"), 1e-3)
	isleName := "isle: Go host spawns a 1-page C reactor (`node.Spawn`)"
	at := fmt.Sprintf(", %s kept alive", count(n))
	r.Rows = append(r.Rows, Row{Workload: "CPU time per spawn" + at, Unit: "µs", Kind: Time,
		Isle: Figure{Name: isleName, Runs: isleRuns[0]}, Peer: erl[0],
		Note: "the whole OS process's user+system CPU time over the spawns (getrusage; Erlang: `/proc/self/stat`, " +
			"until every process has reached its `receive`), divided by the count; collector and scheduler threads, and page faults, included"})
	// The kernel splits CPU time into user and system by sampling at its
	// clock tick (10 ms), so over the short runs of small counts the user
	// part may round to zero; at sz.big a run takes seconds.
	r.Rows = append(r.Rows, Row{Workload: "user CPU time per spawn" + at, Unit: "µs", Kind: Time, ZeroOK: n < 100_000,
		Isle: Figure{Name: isleName, Runs: isleRuns[4]}, Peer: erl[4],
		Note: "the user part of the row above: what is left when the kernel's work, mostly page faults on fresh memory, is set aside " +
			"(Erlang's `statistics(runtime)` counts this much)"})
	for i, name := range []string{"p50", "mean", "p99"} {
		note := "over every spawn of a run, each timed alone, while the count grows to " + count(n)
		if name == "p99" {
			note += fmt.Sprintf("; per 1,000 spawns, the runs in turn took %s minor page faults and %s collections",
				nums(isleRuns[5]), nums(isleRuns[6]))
		}
		r.Rows = append(r.Rows, Row{Workload: "spawn latency " + name + at, Unit: "µs", Kind: Time,
			Isle: Figure{Name: isleName, Runs: isleRuns[i+1]}, Peer: erl[i+1], Note: note})
	}
	t = time.Now()
	keptRuns, kerr := h.repeatBig(1, func(n int) ([]float64, error) { return h.isleSpawnCPUWith(n, true) })
	h.logf("  isle with KeepInstances: the same, one counted run, in %v", time.Since(t).Round(time.Second))
	kept := Figure{Name: keptName}
	if kerr != nil {
		kept.Skip = kerr.Error()
	} else {
		kept.Runs = keptRuns[0]
	}
	r.Rows = append(r.Rows, Row{Workload: "CPU time per spawn" + at, Unit: "µs", Kind: Time,
		Isle: Figure{Name: isleName, Runs: isleRuns[0]}, Peer: kept,
		Note: "what dormancy moves to the first turn: the instance (one counted run)"})
	r.Targets = append(r.Targets,
		Target{What: "spawn p50" + at, Goal: 1, Unit: "µs", Kind: Time, Value: Figure{Name: isleName, Runs: isleRuns[1]}},
		Target{What: "spawn p99" + at, Goal: 10, Unit: "µs", Kind: Time, Value: Figure{Name: isleName, Runs: isleRuns[3]}})
	if erl[0].Measured() {
		r.Targets = append(r.Targets, Target{What: "CPU time per spawn at " + count(n) + " over Erlang's", Goal: 1,
			Unit: "× Erlang's", Kind: Time, Value: one(median(isleRuns[0]) / erl[0].Median())})
	}
	return nil
}

// isleSpawnCPU spawns n tiny reactors into a fresh node, each timed, and
// returns the process's CPU time per spawn, the p50, mean and p99 of the
// spawn latency, and the user part of the CPU time per spawn, in µs.
func (h *harness) isleSpawnCPU(n int) ([]float64, error) { return h.isleSpawnCPUWith(n, false) }

// isleSpawnCPUWith is isleSpawnCPU, on a node that keeps instances if
// keep is set.
func (h *harness) isleSpawnCPUWith(n int, keep bool) ([]float64, error) {
	node, err := h.sizedNodeWith(n, keep)
	if err != nil {
		return nil, err
	}
	defer node.Close(context.Background())
	mod, err := h.load(node, "tiny")
	if err != nil {
		return nil, err
	}
	bg := context.Background()
	procs := make([]*isle.Process, 0, n)
	samples := make([]float64, n)
	runtime.GC() // the garbage of earlier work is not this run's to collect
	c0, u0, h0 := cpuTime(), userTime(), readHostCounts()
	for i := range samples {
		t0 := time.Now()
		p, err := node.Spawn(bg, mod, isle.Grants{}, reactorLimits)
		samples[i] = float64(time.Since(t0))
		if err != nil {
			return nil, fmt.Errorf("spawn %d: %w", i, err)
		}
		procs = append(procs, p)
	}
	cpu, user, counts := cpuTime()-c0, userTime()-u0, readHostCounts().since(h0)
	runtime.KeepAlive(procs)
	var sum float64
	for _, s := range samples {
		sum += s
	}
	return []float64{float64(cpu.Nanoseconds()) / float64(n) / 1e3,
		percentile(samples, 0.5) / 1e3, sum / float64(n) / 1e3, percentile(samples, 0.99) / 1e3,
		float64(user.Nanoseconds()) / float64(n) / 1e3, counts.faults * 1000 / float64(n), counts.gcs * 1000 / float64(n)}, nil
}

// sizedNode starts a node sized for n live processes. The default ceilings
// are a million processes, and guest memory equal to the machine's RAM
// counted at each linear memory's size, touched or not: a million 64 KiB
// memories count 64 GiB though each touches a page or two. So the node
// gets room for n processes at the 1 MiB each may grow to.
func (h *harness) sizedNode(n int) (*isle.Node, error) { return h.sizedNodeWith(n, false) }

// sizedNodeWith is sizedNode, keeping instances if keep is set.
func (h *harness) sizedNodeWith(n int, keep bool) (*isle.Node, error) {
	return isle.NewNode(h.ctx, isle.Config{CacheDir: filepath.Join(h.opts.CacheDir, "node"), KeepInstances: keep,
		MaxProcesses: n + 1000, SpawnQuota: n + 1000, MaxMemory: int64(n+1000) * int64(reactorLimits.Memory)})
}

// runs is how many counted runs make a figure that would take n at most.
func (h *harness) runs(n int) int { return min(h.opts.Runs, n) }

// repeatBig runs f at a tenth of sz.big to warm up, then at sz.big runs
// times. A warm-up at full size would cost as much as a counted run and
// warm nothing a tenth does not: the module is compiled and cached, and
// the code paths run.
func (h *harness) repeatBig(runs int, f func(n int) ([]float64, error)) ([][]float64, error) {
	warm := true
	return h.repeatN(runs, func() ([]float64, error) {
		if warm {
			warm = false
			return f(max(1, h.sz.big/10))
		}
		return f(h.sz.big)
	})
}

// cpuTime returns the user and system CPU time this process has used, on
// all its threads.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// userTime returns this process's user CPU time so far, every thread's.
func userTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano())
}

// pteBytes returns the memory this process's page tables take (VmPTE),
// which its resident set does not count.
func pteBytes() float64 { return kbField("/proc/self/status", "VmPTE") }

// memAvailable returns the memory the kernel reckons can be allocated
// without swapping (MemAvailable), or 0 when unknown.
func memAvailable() float64 { return kbField("/proc/meminfo", "MemAvailable") }

func kbField(path, name string) float64 {
	v := strings.TrimSuffix(procField(path, name), " kB")
	kb, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return 0
	}
	return kb * 1024
}

// fitsBig says why sz.big reactors after one message each would not fit
// in this machine's available memory, or "" if they would. perProc is the
// bytes per reactor, resident and page tables, measured at a smaller
// count; the margin allows for the count's own overheads and for other
// processes' growth meanwhile.
func fitsBig(n int, perProc float64) string {
	const margin = 1.25
	need := float64(n) * perProc * margin
	avail := memAvailable()
	switch {
	case perProc <= 0 || math.IsNaN(perProc):
		return "no estimate of memory per reactor from a smaller count"
	case avail == 0:
		return "MemAvailable unreadable from /proc/meminfo"
	case need+1<<30 > avail:
		return fmt.Sprintf("would need about %.1f GiB (%s reactors at %.1f KiB each, resident and page tables, measured at a smaller count, plus 25%%) "+
			"and 1 GiB spare, but MemAvailable is %.1f GiB", need/(1<<30), count(n), perProc/1024, avail/(1<<30))
	}
	return ""
}

// errNoRoom marks a count of processes this machine has no memory for.
var errNoRoom = errors.New("not enough memory available")

// bigMemory measures what each of sz.big tiny reactors costs, resident and
// in page tables, never messaged, after one message each and after a rest
// that follows, beside Erlang at the same count. est holds the bytes per reactor, resident and
// page tables, measured at the largest smaller count: never messaged, then
// after one message; a run is skipped when that many would not fit. It
// returns isle's and Erlang's figures for the memory plot.
func (h *harness) bigMemory(r *Report, est [2]float64) ([]Figure, error) {
	const kib = 1.0 / 1024
	n, runs := h.sz.big, h.runs(h.sz.bigMemRuns)
	t := time.Now()
	res, eerr := h.erlang.runFor(h, 10*time.Minute, "memory.escript", strconv.Itoa(runs), strconv.Itoa(n))
	h.logf("  Erlang: %s processes in %v", count(n), time.Since(t).Round(time.Second))
	erl := scaleFigs(erlangFigures("Erlang: processes waiting in `receive`, by `erlang:memory(processes)`", res, eerr,
		fmt.Sprintf("erl_%d", n), fmt.Sprintf("rss_%d", n), fmt.Sprintf("pte_%d", n)), kib)
	erl[1].Name = "Erlang: the same processes, by the BEAM's RSS growth"
	erl[2].Name = "Erlang: the same processes, by the growth of the BEAM's VmPTE"
	isle.FreeOSMemory()
	message := fitsBig(n, est[1]) == ""
	if !message {
		h.logf("  %s reactors after one message each: skipped: %s", count(n), fitsBig(n, est[1]))
	}
	t = time.Now()
	// No warm-up run: runMemory has just measured the largest smaller
	// count the same way.
	isleRuns, err := h.repeatOnly(runs, func() ([]float64, error) {
		// The last run's reactors are garbage on the Go heap until
		// collected: give their pages back before asking what is free.
		isle.FreeOSMemory()
		if why := fitsBig(n, est[0]); why != "" {
			return nil, fmt.Errorf("%w: %s", errNoRoom, why)
		}
		if why := fitsBig(n, est[1]); message && why != "" {
			return nil, fmt.Errorf("%w: after one message each: %s", errNoRoom, why)
		}
		m, err := h.isleIdleMemory(n, message, message)
		return []float64{m.idle * kib, m.pteIdle * kib, m.msgd * kib, m.pteMsgd * kib, m.rested * kib, m.pteRested * kib}, err
	})
	h.logf("  isle: %s reactors, %s in %v", count(n), plural(runs, "counted run"), time.Since(t).Round(time.Second))
	var idleSkip, msgdSkip string
	switch {
	case errors.Is(err, errNoRoom):
		idleSkip, msgdSkip = err.Error(), err.Error()
		isleRuns = make([][]float64, 6)
	case err != nil:
		return nil, fmt.Errorf("isle memory at %s: %w", count(n), err)
	case !message:
		msgdSkip = fmt.Sprintf("%v: %s", errNoRoom, fitsBig(n, est[1]))
	}
	isleF := []Figure{
		{Name: "isle: idle 1-page C reactors, never messaged", Runs: isleRuns[0], Skip: idleSkip},
		{Name: "isle: their page tables (growth of VmPTE)", Runs: isleRuns[1], Skip: idleSkip},
		{Name: "isle: the same reactors after one call each", Runs: isleRuns[2], Skip: msgdSkip},
		{Name: "isle: their page tables (growth of VmPTE)", Runs: isleRuns[3], Skip: msgdSkip},
		{Name: fmt.Sprintf("isle: the same reactors after one call each and %v idle", restAfterCall), Runs: isleRuns[4], Skip: msgdSkip},
		{Name: "isle: their page tables (growth of VmPTE)", Runs: isleRuns[5], Skip: msgdSkip},
	}
	w, pt, after := "resident memory per idle process, "+count(n), "page tables per idle process, "+count(n), ", after one message each"
	rested := fmt.Sprintf(" and %v idle", restAfterCall)
	restNote := "; an idle reactor is put to sleep, giving its instance back, after 1 to 2 s without a turn"
	rssNote := fmt.Sprintf("%s; isle: RSS growth of the Go host process, whose node is sized for %s processes; Erlang: the BEAM's own accounting", plural(runs, "counted run"), count(n))
	pteNote := "growth of VmPTE in /proc/self/status, which the resident set does not count"
	rows := []Row{
		{Workload: w, Isle: isleF[0], Peer: erl[0], Note: rssNote, Skip: idleSkip},
		{Workload: w, Isle: isleF[0], Peer: erl[1], Note: "RSS growth of each whole OS process", Skip: idleSkip},
		{Workload: w + after, Isle: isleF[2], Peer: erl[0], Note: rssNote, Skip: msgdSkip},
		{Workload: pt, Isle: isleF[1], Peer: erl[2], Note: pteNote, Skip: idleSkip},
		{Workload: pt + after, Isle: isleF[3], Peer: erl[2], Note: pteNote, Skip: msgdSkip},
		{Workload: w + after + rested, Isle: isleF[4], Peer: erl[0], Note: rssNote + restNote, Skip: msgdSkip},
		{Workload: pt + after + rested, Isle: isleF[5], Peer: erl[2], Note: pteNote, Skip: msgdSkip},
	}
	for i := range rows {
		rows[i].Unit, rows[i].Kind = "KiB", Memory
	}
	r.Rows = append(r.Rows, rows...)
	for _, t := range []struct {
		what       string
		rss, table int
	}{{after, 2, 3}, {after + rested, 4, 5}} {
		total := Figure{Name: "isle", Skip: msgdSkip}
		for i := range isleRuns[t.rss] {
			total.Runs = append(total.Runs, (isleRuns[t.rss][i]+isleRuns[t.table][i])*float64(n)/(1<<20))
		}
		r.Targets = append(r.Targets, Target{What: count(n) + " reactors" + t.what + ", resident and page tables",
			Goal: 6, Unit: "GiB", Kind: Memory, Value: total})
	}
	return []Figure{isleF[0], isleF[2], erl[1], erl[0]}, nil
}
