package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
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
	cats := slices.Sorted(slices.Values(append(slices.Clone(h.sz.idle), append(h.sz.osIdle, h.sz.big)...)))
	cats = slices.Compact(cats)
	plot := Plot{File: "memory.svg", Title: "Resident memory per idle process",
		XLabel: "idle processes", YLabel: "KiB per process (log)"}
	for _, c := range cats {
		plot.Categories = append(plot.Categories, count(c))
	}
	names := []string{"isle, never messaged", "isle, after one message", "Erlang (RSS)", "Erlang (erlang:memory)",
		"goroutine", "OS process (RSS)", "OS process (PSS)"}
	byN := map[int][]Figure{} // category → one figure per series
	var isleFirst Figure
	var est [2]float64 // bytes per reactor at the largest count, never messaged and after a message
	for i, n := range h.sz.idle {
		runs, err := h.repeat(func() ([]float64, error) {
			m, err := h.isleIdleMemory(n, true, true)
			return []float64{m.idle * kib, m.msgd * kib, m.pteIdle * kib, m.pteMsgd * kib, m.rested * kib}, err
		})
		if err != nil {
			return fmt.Errorf("isle idle memory at %d: %w", n, err)
		}
		idle := Figure{Name: "isle: idle 1-page C reactors, never messaged", Runs: runs[0]}
		msgd := Figure{Name: "isle: the same reactors after one call each", Runs: runs[1]}
		rested := Figure{Name: "isle: the same reactors after one call each and a rest", Runs: runs[4]}
		if i == 0 {
			isleFirst = idle
		}
		est = [2]float64{(median(runs[0]) + median(runs[2])) / kib, (median(runs[1]) + median(runs[3])) / kib}
		erl := scaleFigs(erlangFigures("Erlang: the same processes, by the BEAM's RSS growth", res, eerr,
			fmt.Sprintf("rss_%d", n), fmt.Sprintf("erl_%d", n)), kib)
		erl[1].Name = "Erlang: processes waiting in `receive`, by `erlang:memory(processes)`"
		gor := h.peer("Go: goroutines blocked on a channel", 1, func() ([]float64, error) {
			return []float64{goIdleMemory(n) * kib}, nil
		})[0]
		byN[n] = []Figure{idle, msgd, erl[0], erl[1], gor, {}, {}}
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
				Note: "the same reactors once they have had no turn for long enough to be put to sleep: a dormant reactor gives back its wasm instance, keeping its memory and globals"})
		if i == len(h.sz.idle)-1 {
			r.Targets = append(r.Targets, Target{What: "resident memory per idle reactor at " + count(n), Goal: 32, Unit: "KiB", Kind: Memory, Value: idle})
			if erl[1].Measured() {
				r.Targets = append(r.Targets, Target{What: "an idle C reactor that never ran, at " + count(n) + ", over Erlang's idle process",
					Goal: 1, Unit: "× Erlang's", Kind: Memory, Value: one(idle.Median() / erl[1].Median())})
			}
			// The page its turn wrote, and 1.5 KiB of kernel state.
			const wrote = 4 + 1.5
			r.Targets = append(r.Targets,
				Target{What: "a reactor after one message, at " + count(n) + ": the page it wrote and 1.5 KiB", Goal: wrote, Unit: "KiB", Kind: Memory, Value: msgd},
				Target{What: fmt.Sprintf("the same after %v idle", restAfterCall), Goal: wrote, Unit: "KiB", Kind: Memory, Value: rested})
		}
	}
	big, err := h.bigMemory(r, est)
	if err != nil {
		return err
	}
	byN[h.sz.big] = append(big, Figure{}, Figure{}, Figure{})
	for _, n := range h.sz.osIdle {
		figs := h.peer("OS processes: a sleeping native C binary (mean VmRSS)", 2, func() ([]float64, error) {
			rss, pss, err := h.osIdleMemory(n)
			return []float64{rss * kib, pss * kib}, err
		})
		figs[1].Name = "OS processes: the same, mean Pss"
		byN[n] = append(byN[n], make([]Figure, 7-len(byN[n]))...)
		byN[n][5], byN[n][6] = figs[0], figs[1]
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
	isle.FreeOSMemory()
	return float64(rssBytes())
}

// idleMem is what each of n tiny reactors costs, in bytes: the growth of
// this process's RSS and of its page tables, never messaged and after one
// call each; and the RSS growth once they rested restAfterCall after it.
type idleMem struct{ idle, msgd, pteIdle, pteMsgd, rested, pteRested float64 }

// restAfterCall is how long the reactors rest after their call before
// the rested figure: the kernel puts an idle reactor to sleep, giving its
// instance back, between one and two seconds after its last turn.
const restAfterCall = 3 * time.Second

// isleIdleMemory spawns n tiny reactors into a fresh node and measures what
// each costs, first never messaged, then after one call each unless
// message is false, then after restAfterCall if rest is set.
func (h *harness) isleIdleMemory(n int, message, rest bool) (idleMem, error) {
	var m idleMem
	node, err := h.sizedNode(n)
	if err != nil {
		return m, err
	}
	defer node.Close(context.Background())
	mod, err := h.load(node, "tiny")
	if err != nil {
		return m, err
	}
	bg := context.Background()
	procs := make([]*isle.Process, 0, n)
	r0, t0 := settledRSS(), pteBytes()
	for range n {
		p, err := node.Spawn(bg, mod, isle.Grants{}, reactorLimits)
		if err != nil {
			return m, err
		}
		procs = append(procs, p)
	}
	r1, t1 := settledRSS(), pteBytes()
	per := func(v float64) float64 { return v / float64(n) }
	m.idle, m.pteIdle = per(r1-r0), per(t1-t0)
	if !message {
		return m, nil
	}
	if err := h.callEach(procs); err != nil {
		return m, err
	}
	r2, t2 := settledRSS(), pteBytes()
	m.msgd, m.pteMsgd = per(r2-r0), per(t2-t0)
	if rest {
		time.Sleep(restAfterCall) // the figure is of reactors that rested this long
		m.rested, m.pteRested = per(settledRSS()-r0), per(pteBytes()-t0)
	}
	runtime.KeepAlive(procs)
	return m, nil
}

// callEach calls every process once, from several goroutines: a call
// from Go waits for its reply, and at a million processes one after
// another would take a minute of waiting.
func (h *harness) callEach(procs []*isle.Process) error {
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Minute)
	defer cancel()
	workers := 4 * runtime.GOMAXPROCS(0)
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := w; i < len(procs); i += workers {
				if _, err := procs[i].Call(ctx, isle.Message{Tag: 7}); err != nil {
					errs <- fmt.Errorf("call %d: %w", i, err)
					return
				}
			}
			errs <- nil
		}()
	}
	var err error
	for range workers {
		if e := <-errs; e != nil && err == nil {
			err = e
			cancel() // the others stop at their next call
		}
	}
	return err
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
