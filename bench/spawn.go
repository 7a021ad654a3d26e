package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/isle-run/isle"
)

// Tags of bench/wasm/spawner.c.
const (
	tagSpawn = 1
	tagKill  = 2
	tagError = 99
)

func runSpawn(h *harness, r *Report) error {
	n := h.sz.spawnN
	pcts := func(samples []float64, err error) ([]float64, error) {
		if err != nil {
			return nil, err
		}
		return []float64{percentile(samples, 0.5) / 1e3, percentile(samples, 0.99) / 1e3}, nil
	}
	host, err := h.repeat(func() ([]float64, error) {
		samples, counts, err := h.isleSpawnCounted(0, n, false, false)
		v, err := pcts(samples, err)
		if err != nil {
			return nil, err
		}
		perK := float64(n) / 1000
		return append(v, counts.faults/perK, counts.gcs/perK), nil
	})
	if err != nil {
		return fmt.Errorf("isle spawn from Go: %w", err)
	}
	faults, err := h.repeatN(3, func() ([]float64, error) {
		c, err := faultCost()
		return []float64{c}, err
	})
	if err != nil {
		return err
	}
	kept := h.peer(keptName, 2, func() ([]float64, error) { return pcts(h.isleSpawnWith(0, n, true, false)) })
	guest, err := h.repeat(func() ([]float64, error) { return pcts(h.isleGuestSpawn(n)) })
	if err != nil {
		return fmt.Errorf("isle spawn guest to guest: %w", err)
	}
	hostName := "isle: Go host spawns a 1-page C reactor (`node.Spawn`)"
	guestName := "isle: C reactor spawns a 1-page C reactor (`isle_spawn`)"
	res, eerr := h.erlang.run(h, "spawn.escript", strconv.Itoa(h.opts.Runs), strconv.Itoa(n),
		ints(h.sz.live), strconv.Itoa(h.sz.liveSamples))
	erl := scaleFigs(erlangFigures("Erlang `spawn/1` of a process waiting in `receive`", res, eerr, "p50_ns", "p99_ns"), 1e-3)
	peers := [][]Figure{
		erl,
		h.peer("OS process: fork+exec of a tiny native C binary", 2, func() ([]float64, error) { return pcts(h.forkExec(h.sz.forkN)) }),
		h.peer("goroutine start (`go` statement)", 2, func() ([]float64, error) { return pcts(goSpawn(0, n), nil) }),
		h.peer(fmt.Sprintf("bare wazero %s `InstantiateModule` of the same module", h.env.Wazero), 2,
			func() ([]float64, error) { return pcts(h.wazeroSpawn(n)) }),
		kept,
	}
	notes := []string{
		"",
		"timed until the child runs its main (it writes a byte the parent waits for); exit and reaping not timed",
		"`go` returns before the goroutine runs, as `spawn/1` does",
		"default `ModuleConfig`, imports stubbed, no rewriting; no process table or handles, but no memory pool either",
		"the same spawn when reactors are not born dormant: its instance is made in the spawn, not at its first turn",
	}
	tail := fmt.Sprintf("what the host process did meanwhile, per 1,000 spawns: %s minor page faults and %s collections "+
		"(medians over the runs); a page fault on fresh memory cost %s µs in this run", num(median(host[2])), num(median(host[3])),
		num(median(faults[0])))
	for i, name := range []string{"spawn latency p50", "spawn latency p99"} {
		for j, p := range peers {
			note := notes[j]
			if i == 1 && j == 0 {
				note = tail
			}
			r.Rows = append(r.Rows, Row{Workload: name + ", from Go", Unit: "µs", Kind: Time,
				Isle: Figure{Name: hostName, Runs: host[i]}, Peer: p[i], Note: note})
		}
	}
	for i, name := range []string{"spawn latency p50", "spawn latency p99"} {
		r.Rows = append(r.Rows, Row{Workload: name + ", guest to guest", Unit: "µs", Kind: Time,
			Isle: Figure{Name: guestName, Runs: guest[i]}, Peer: erl[i],
			Note: "timed inside the guest with the WASI monotonic clock around each `isle_spawn`; the child then gets its init message"})
	}
	r.Targets = append(r.Targets,
		Target{What: "spawn p50 (from Go)", Goal: 1, Unit: "µs", Kind: Time, Value: Figure{Name: hostName, Runs: host[0]}},
		Target{What: "spawn p99 (from Go)", Goal: 10, Unit: "µs", Kind: Time, Value: Figure{Name: hostName, Runs: host[1]}})
	if err := h.spawnToReply(r, pcts); err != nil {
		return err
	}
	if err := h.spawnVsLive(r, res, eerr, hostName); err != nil {
		return err
	}
	return runSpawnCPU(h, r)
}

// keptName names isle's figures with Config.KeepInstances.
const keptName = "isle, `Config.KeepInstances`: the instance made in the spawn"

// spawnToReply times a spawn and a first call together, born dormant (the
// first turn makes the instance) and with Config.KeepInstances, so that
// the spawn rows do not hide what dormancy moves to the first message.
func (h *harness) spawnToReply(r *Report, pcts func([]float64, error) ([]float64, error)) error {
	n := h.sz.spawnN
	dormant, err := h.repeat(func() ([]float64, error) { return pcts(h.isleSpawnWith(0, n, false, true)) })
	if err != nil {
		return fmt.Errorf("isle spawn to first reply: %w", err)
	}
	kept := h.peer(keptName, 2, func() ([]float64, error) { return pcts(h.isleSpawnWith(0, n, true, true)) })
	for i, name := range []string{"p50", "p99"} {
		r.Rows = append(r.Rows, Row{Workload: "spawn to first reply " + name + ", from Go", Unit: "µs", Kind: Time,
			Isle: Figure{Name: "isle: `node.Spawn` of a 1-page C reactor, then `Call`", Runs: dormant[i]}, Peer: kept[i],
			Note: "born dormant, the reactor gets its instance at this first turn"})
	}
	return nil
}

// spawnVsLive times spawns into a node already holding idle processes.
func (h *harness) spawnVsLive(r *Report, res map[string][]float64, eerr error, hostName string) error {
	plot := Plot{File: "spawn-vs-live.svg", Title: "Spawn latency p50 against live idle processes",
		XLabel: "idle processes already alive", YLabel: "µs per spawn (log)"}
	isleS := Series{Name: "isle (Go host → C reactor)"}
	goS := Series{Name: "goroutine"}
	erlS := Series{Name: "Erlang spawn/1"}
	last := len(h.sz.live) - 1
	for i, live := range h.sz.live {
		plot.Categories = append(plot.Categories, count(live))
		p50 := func(samples []float64, err error) ([]float64, error) {
			if err != nil {
				return nil, err
			}
			return []float64{percentile(samples, 0.5) / 1e3}, nil
		}
		runs, err := h.repeat(func() ([]float64, error) { return p50(h.isleSpawn(live, h.sz.liveSamples)) })
		if err != nil {
			return fmt.Errorf("isle spawn with %d live: %w", live, err)
		}
		isleF := Figure{Name: hostName, Runs: runs[0]}
		goF := h.peer("goroutine start", 1, func() ([]float64, error) { return p50(goSpawn(live, h.sz.liveSamples), nil) })[0]
		erlF := scaleFigs(erlangFigures("Erlang `spawn/1`", res, eerr, fmt.Sprintf("live_%d_p50_ns", live)), 1e-3)[0]
		isleS.add(isleF)
		goS.add(goF)
		erlS.add(erlF)
		if i == last {
			for _, p := range []Figure{erlF, goF} {
				r.Rows = append(r.Rows, Row{Workload: "spawn latency p50 with " + count(live) + " idle processes alive",
					Unit: "µs", Kind: Time, Isle: isleF, Peer: p})
			}
		}
	}
	plot.Series = []Series{isleS, erlS, goS}
	r.Plots = append(r.Plots, plot)
	return nil
}

// isleSpawn spawns idle tiny reactors from Go, untimed, then n more, each
// timed, and returns those n durations in nanoseconds. Every process stays
// alive until the node closes. The spawn context never ends, so no
// watcher is armed: the cheapest spawn the API offers.
func (h *harness) isleSpawn(idle, n int) ([]float64, error) {
	return h.isleSpawnWith(idle, n, false, false)
}

// isleSpawnWith is isleSpawn on a node that keeps instances if keep is
// set, timing each spawn with a first call if call is set.
func (h *harness) isleSpawnWith(idle, n int, keep, call bool) ([]float64, error) {
	samples, _, err := h.isleSpawnCounted(idle, n, keep, call)
	return samples, err
}

// isleSpawnCounted is isleSpawnWith, also returning what the host process
// did while the timed spawns ran.
func (h *harness) isleSpawnCounted(idle, n int, keep, call bool) ([]float64, hostCounts, error) {
	node, err := isle.NewNode(h.ctx, isle.Config{CacheDir: filepath.Join(h.opts.CacheDir, "node"), KeepInstances: keep})
	if err != nil {
		return nil, hostCounts{}, err
	}
	defer node.Close(context.Background())
	mod, err := h.load(node, "tiny")
	if err != nil {
		return nil, hostCounts{}, err
	}
	bg := context.Background()
	procs := make([]*isle.Process, 0, idle+n)
	for range idle {
		p, err := node.Spawn(bg, mod, isle.Grants{}, reactorLimits)
		if err != nil {
			return nil, hostCounts{}, err
		}
		procs = append(procs, p)
	}
	samples := make([]float64, n)
	before := readHostCounts()
	for i := range samples {
		t0 := time.Now()
		p, err := node.Spawn(bg, mod, isle.Grants{}, reactorLimits)
		if err == nil && call {
			_, err = p.Call(bg, isle.Message{Tag: 1})
		}
		samples[i] = float64(time.Since(t0))
		if err != nil {
			return nil, hostCounts{}, err
		}
		procs = append(procs, p)
	}
	counts := readHostCounts().since(before)
	runtime.KeepAlive(procs)
	return samples, counts, nil
}

// isleGuestSpawn has bench/wasm/spawner.c spawn n tiny reactors and
// returns the durations it measured.
func (h *harness) isleGuestSpawn(n int) ([]float64, error) {
	node, err := h.node()
	if err != nil {
		return nil, err
	}
	defer node.Close(context.Background())
	tiny, err := h.load(node, "tiny")
	if err != nil {
		return nil, err
	}
	spawner, err := h.load(node, "spawner")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(h.ctx, 2*time.Minute)
	defer cancel()
	p, err := node.Spawn(context.Background(), spawner,
		isle.Grants{Clock: true, Spawn: map[string]*isle.Module{"tiny": tiny}}, treeLimits)
	if err != nil {
		return nil, err
	}
	reply, err := p.Call(ctx, isle.Message{Tag: tagSpawn, Data: binary.LittleEndian.AppendUint32(nil, uint32(n))})
	if err != nil {
		return nil, err
	}
	if reply.Tag == tagError || len(reply.Data) != 4*n {
		return nil, fmt.Errorf("spawner: %s", guestError(reply))
	}
	samples := make([]float64, n)
	for i := range samples {
		samples[i] = float64(binary.LittleEndian.Uint32(reply.Data[4*i:]))
	}
	if _, err := p.Call(ctx, isle.Message{Tag: tagKill}); err != nil {
		return nil, err
	}
	return samples, nil
}

// guestError describes a fixture's error reply.
func guestError(m isle.Message) string {
	if m.Tag == tagError && len(m.Data) == 4 {
		return fmt.Sprintf("error code %d (see docs/ABI.md)", int32(binary.LittleEndian.Uint32(m.Data)))
	}
	return fmt.Sprintf("unexpected reply: tag %d, %d bytes", m.Tag, len(m.Data))
}

// goSpawn starts idle goroutines blocked on a channel, then n more, each
// timed, and returns those n durations.
func goSpawn(idle, n int) []float64 {
	block := make(chan struct{})
	var started, done sync.WaitGroup
	for range idle {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			started.Done()
			<-block
		}()
	}
	started.Wait()
	samples := make([]float64, n)
	for i := range samples {
		done.Add(1)
		t0 := time.Now()
		go func() {
			defer done.Done()
			<-block
		}()
		samples[i] = float64(time.Since(t0))
	}
	close(block)
	done.Wait()
	return samples
}

// wazeroSpawn instantiates the tiny reactor n times with wazero alone,
// its imports stubbed, and returns each instantiation's duration.
func (h *harness) wazeroSpawn(n int) ([]float64, error) {
	path, err := h.build.wasm("tiny")
	if err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	compiled, err := rt.CompileModule(ctx, bin)
	if err != nil {
		return nil, err
	}
	stubs := map[string]wazero.HostModuleBuilder{}
	for _, f := range compiled.ImportedFunctions() {
		mod, name, _ := f.Import()
		b, ok := stubs[mod]
		if !ok {
			b = rt.NewHostModuleBuilder(mod)
			stubs[mod] = b
		}
		results := len(f.ResultTypes())
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) {
			clear(stack[:results])
		}), f.ParamTypes(), f.ResultTypes()).Export(name)
	}
	for _, b := range stubs {
		if _, err := b.Instantiate(ctx); err != nil {
			return nil, err
		}
	}
	cfg := wazero.NewModuleConfig().WithName("")
	mods := make([]api.Module, 0, n)
	samples := make([]float64, n)
	for i := range samples {
		t0 := time.Now()
		m, err := rt.InstantiateModule(ctx, compiled, cfg)
		samples[i] = float64(time.Since(t0))
		if err != nil {
			return nil, err
		}
		mods = append(mods, m)
	}
	for _, m := range mods {
		_ = m.Close(ctx)
	}
	return samples, nil
}

// forkExec runs bench/native/forkexec.c for n samples.
func (h *harness) forkExec(n int) ([]float64, error) {
	fe, err := h.build.native("forkexec")
	if err != nil {
		return nil, err
	}
	child, err := h.build.native("child")
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(h.ctx, fe, strconv.Itoa(n), child).Output()
	if err != nil {
		return nil, fmt.Errorf("forkexec: %w", err)
	}
	return parseFloats(string(out))
}

// parseFloats parses whitespace-separated numbers.
func parseFloats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Fields(s) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, fmt.Errorf("not a number: %q", f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no numbers printed")
	}
	return out, nil
}

// count formats a process count: 1k, 10k, 100k, 1M.
func count(n int) string {
	if n >= 1_000_000 && n%1_000_000 == 0 {
		return strconv.Itoa(n/1_000_000) + "M"
	}
	if n >= 1000 && n%1000 == 0 {
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}
