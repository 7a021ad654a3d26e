package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/isle-run/isle"
)

func runMemory(h *harness, r *Report) error {
	const kib = 1.0 / 1024
	res, eerr := h.erlang.run(h, "memory.escript", strconv.Itoa(h.opts.Runs), ints(h.sz.idle))
	procinfo := ""
	if v := res["procinfo"]; len(v) > 0 {
		procinfo = fmt.Sprintf("; `process_info(P, memory)` of one idle process: %s bytes", num(v[0]))
	}
	cats := slices.Sorted(slices.Values(append(slices.Clone(h.sz.idle), h.sz.osIdle...)))
	cats = slices.Compact(cats)
	plot := Plot{File: "memory.svg", Title: "Resident memory per idle process",
		XLabel: "idle processes", YLabel: "KiB per process (log)"}
	for _, c := range cats {
		plot.Categories = append(plot.Categories, count(c))
	}
	names := []string{"isle, never messaged", "isle, after one message", "isle, after one message and a rest",
		"Erlang (RSS)", "Erlang (erlang:memory)", "goroutine", "OS process (RSS)", "OS process (PSS)"}
	byN := map[int][]Figure{} // category → one figure per series
	var isleFirst Figure
	for i, n := range h.sz.idle {
		runs, err := h.repeat(func() ([]float64, error) {
			idle, msgd, rested, err := h.isleIdleMemory(n)
			return []float64{idle * kib, msgd * kib, rested * kib}, err
		})
		if err != nil {
			return fmt.Errorf("isle idle memory at %d: %w", n, err)
		}
		idle := Figure{Name: "isle: idle 1-page C reactors, never messaged", Runs: runs[0]}
		msgd := Figure{Name: "isle: the same reactors after one call each", Runs: runs[1]}
		rested := Figure{Name: "isle: the same reactors after one call each and a rest", Runs: runs[2]}
		if i == 0 {
			isleFirst = idle
		}
		erl := scaleFigs(erlangFigures("Erlang: the same processes, by the BEAM's RSS growth", res, eerr,
			fmt.Sprintf("rss_%d", n), fmt.Sprintf("erl_%d", n)), kib)
		erl[1].Name = "Erlang: processes waiting in `receive`, by `erlang:memory(processes)`"
		gor := h.peer("Go: goroutines blocked on a channel", 1, func() ([]float64, error) {
			return []float64{goIdleMemory(n) * kib}, nil
		})[0]
		byN[n] = []Figure{idle, msgd, rested, erl[0], erl[1], gor, {}, {}}
		w := "resident memory per idle process, " + count(n)
		r.Rows = append(r.Rows,
			Row{Workload: w, Unit: "KiB", Kind: Memory, Isle: idle, Peer: erl[1],
				Note: "isle: RSS growth of the Go host process; Erlang: the BEAM's own accounting" + procinfo},
			Row{Workload: w, Unit: "KiB", Kind: Memory, Isle: idle, Peer: erl[0],
				Note: "RSS growth of each whole OS process; the BEAM's allocators already hold resident memory from earlier runs, so at small counts its growth undercounts"},
			Row{Workload: w, Unit: "KiB", Kind: Memory, Isle: idle, Peer: gor, Note: "RSS growth of the same Go process"},
			Row{Workload: w + ", after one message each", Unit: "KiB", Kind: Memory, Isle: msgd, Peer: erl[1],
				Note: "an Erlang process has run to its `receive`; an isle reactor that has had a turn also holds what its first turn allocated"},
			Row{Workload: w + fmt.Sprintf(", after one message each and %v idle", restAfterCall), Unit: "KiB", Kind: Memory, Isle: rested, Peer: erl[1],
				Note: "the same reactors once they have had no turn for long enough to give back wazero's call engine (its 10 KiB stack), which a busy reactor keeps"})
		if i == len(h.sz.idle)-1 {
			r.Targets = append(r.Targets, Target{What: "resident memory per idle reactor at " + count(n), Goal: 32, Unit: "KiB", Kind: Memory, Value: idle})
		}
	}
	for _, n := range h.sz.osIdle {
		figs := h.peer("OS processes: a sleeping native C binary (mean VmRSS)", 2, func() ([]float64, error) {
			rss, pss, err := h.osIdleMemory(n)
			return []float64{rss * kib, pss * kib}, err
		})
		figs[1].Name = "OS processes: the same, mean Pss"
		byN[n] = append(byN[n], make([]Figure, len(names)-len(byN[n]))...)
		byN[n][6], byN[n][7] = figs[0], figs[1]
		note := fmt.Sprintf("isle at %s reactors, OS processes at %s: the sum over them of VmRSS (or Pss) from /proc, divided by the count. VmRSS counts the shared C library in every process; Pss shares it out", count(h.sz.idle[0]), count(n))
		w := "resident memory per idle OS process, " + count(n)
		r.Rows = append(r.Rows,
			Row{Workload: w, Unit: "KiB", Kind: Memory, Isle: isleFirst, Peer: figs[0], Note: note},
			Row{Workload: w, Unit: "KiB", Kind: Memory, Isle: isleFirst, Peer: figs[1], Note: note})
	}
	series := make([]Series, len(names))
	for i := range series {
		series[i].Name = names[i]
		for _, c := range cats {
			if figs := byN[c]; figs != nil && figs[i].Measured() {
				series[i].add(figs[i])
			} else {
				series[i].gap()
			}
		}
	}
	plot.Series = series
	r.Plots = append(r.Plots, plot)
	return nil
}

// settledRSS returns the resident set after returning every free page the
// Go runtime holds to the OS.
func settledRSS() float64 {
	debug.FreeOSMemory()
	return float64(rssBytes())
}

// restAfterCall is how long the reactors rest after their call before
// the last figure: the kernel gives an idle reactor's call engine back
// between one and two seconds after its last turn.
const restAfterCall = 3 * time.Second

// isleIdleMemory spawns n tiny reactors into a fresh node and returns the
// growth of this process's RSS per reactor, first with the reactors never
// messaged, then right after one call each, then after restAfterCall.
func (h *harness) isleIdleMemory(n int) (idle, messaged, rested float64, err error) {
	node, err := h.node()
	if err != nil {
		return 0, 0, 0, err
	}
	defer node.Close(context.Background())
	mod, err := h.load(node, "tiny")
	if err != nil {
		return 0, 0, 0, err
	}
	bg := context.Background()
	procs := make([]*isle.Process, 0, n)
	r0 := settledRSS()
	for range n {
		p, err := node.Spawn(bg, mod, isle.Grants{}, reactorLimits)
		if err != nil {
			return 0, 0, 0, err
		}
		procs = append(procs, p)
	}
	r1 := settledRSS()
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Minute)
	defer cancel()
	for _, p := range procs {
		if _, err := p.Call(ctx, isle.Message{Tag: 7}); err != nil {
			return 0, 0, 0, err
		}
	}
	r2 := settledRSS()
	time.Sleep(restAfterCall) // the figure is of reactors that rested this long
	r3 := settledRSS()
	runtime.KeepAlive(procs)
	return (r1 - r0) / float64(n), (r2 - r0) / float64(n), (r3 - r0) / float64(n), nil
}

// goIdleMemory starts n goroutines blocked on a channel and returns the
// growth of this process's RSS per goroutine.
func goIdleMemory(n int) float64 {
	block := make(chan struct{})
	var started, done sync.WaitGroup
	r0 := settledRSS()
	for range n {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			started.Done()
			<-block
		}()
	}
	started.Wait()
	r1 := settledRSS()
	close(block)
	done.Wait()
	return (r1 - r0) / float64(n)
}

// osIdleMemory starts n sleeping native processes and returns the mean of
// their VmRSS and of their Pss.
func (h *harness) osIdleMemory(n int) (rss, pss float64, err error) {
	child, err := h.build.native("child")
	if err != nil {
		return 0, 0, err
	}
	var cmds []*exec.Cmd
	defer func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}()
	for range n {
		r, w, err := os.Pipe()
		if err != nil {
			return 0, 0, err
		}
		c := exec.Command(child, "idle")
		c.Stdout = w
		err = c.Start()
		w.Close()
		if err != nil {
			r.Close()
			return 0, 0, err
		}
		cmds = append(cmds, c)
		_, err = r.Read(make([]byte, 1)) // it is running and about to sleep
		r.Close()
		if err != nil {
			return 0, 0, fmt.Errorf("idle child did not start: %w", err)
		}
	}
	for _, c := range cmds {
		dir := "/proc/" + strconv.Itoa(c.Process.Pid)
		rss += float64(procRSS(dir + "/status"))
		pss += float64(procPss(dir + "/smaps_rollup"))
	}
	return rss / float64(n), pss / float64(n), nil
}
