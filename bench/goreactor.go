package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/internal/gobuild"
)

// The Go reactor workload: a Go reactor (examples/pingpong/pong, built
// with -buildmode=c-shared) spawned from Go and called once, with and
// without an image of its initialised state, beside bare wazero doing its
// init and Erlang's spawn and idle process.

const goReactorDir = "examples/pingpong/pong"

// goReactorPing is pong's request tag; it echoes the payload.
const goReactorPing = 1

func runGoReactor(h *harness, r *Report) error {
	n := h.sz.goReactors
	const kib = 1.0 / 1024
	measure := func(image bool) ([][]float64, error) {
		return h.repeat(func() ([]float64, error) {
			p50, private, err := h.goReactorSpawns(n, image)
			return []float64{p50 / 1e3, private * kib}, err
		})
	}
	imaged, err := measure(true)
	if err != nil {
		return fmt.Errorf("a Go reactor from an image: %w", err)
	}
	own, err := measure(false)
	if err != nil {
		return fmt.Errorf("a Go reactor running its own init: %w", err)
	}
	imgSpawn := Figure{Name: "isle: Go reactor from an image (default)", Runs: imaged[0]}
	ownSpawn := Figure{Name: "isle: the same with `Limits.NoImage` (runs `_initialize`)", Runs: own[0]}
	imgMem := Figure{Name: imgSpawn.Name, Runs: imaged[1]}
	ownMem := Figure{Name: ownSpawn.Name, Runs: own[1]}
	bare := h.peer(fmt.Sprintf("bare wazero %s: `InstantiateModule` + `_initialize` of the same module", h.env.Wazero), 2,
		func() ([]float64, error) {
			p50, private, err := h.bareGoReactor(n)
			return []float64{p50 / 1e3, private * kib}, err
		})
	res, eerr := h.erlang.run(h, "spawn.escript", strconv.Itoa(h.opts.Runs), "1000", "0", "10")
	erlSpawn := scaleFigs(erlangFigures("Erlang `spawn/1` of a process waiting in `receive`", res, eerr, "p50_ns"), 1e-3)[0]
	mres, merr := h.erlang.run(h, "memory.escript", strconv.Itoa(h.opts.Runs), "1000")
	erlMem := scaleFigs(erlangFigures("Erlang: an idle process, by `erlang:memory(processes)`", mres, merr, "erl_1000"), kib)[0]
	w := "Go reactor: spawn to first reply p50, from Go"
	note := fmt.Sprintf("%d spawns per run, each followed by one call that pong answers", n)
	r.Rows = append(r.Rows,
		Row{Workload: w, Unit: "µs", Kind: Time, Isle: imgSpawn, Peer: ownSpawn, Note: note},
		Row{Workload: w, Unit: "µs", Kind: Time, Isle: imgSpawn, Peer: bare[0],
			Note: "bare wazero: its own WASI, isle's imports stubbed, no call after the init"},
		Row{Workload: w, Unit: "µs", Kind: Time, Isle: imgSpawn, Peer: erlSpawn, Note: "Erlang: the spawn alone"})
	mw := "Go reactor: private memory per idle process, after one reply"
	mnote := fmt.Sprintf("growth of the host's RssAnon over %d processes, divided by their count: what each holds of its own (an image's shared pages are RssShmem)", n)
	r.Rows = append(r.Rows,
		Row{Workload: mw, Unit: "KiB", Kind: Memory, Isle: imgMem, Peer: ownMem, Note: mnote},
		Row{Workload: mw, Unit: "KiB", Kind: Memory, Isle: imgMem, Peer: bare[1], Note: mnote + "; bare wazero's instances after `_initialize`"},
		Row{Workload: mw, Unit: "KiB", Kind: Memory, Isle: imgMem, Peer: erlMem, Note: "Erlang: the BEAM's own accounting"})
	r.Targets = append(r.Targets,
		Target{What: "Go reactor spawn to first reply p50", Goal: 1000, Unit: "µs", Kind: Time, Value: imgSpawn},
		Target{What: "Go reactor private memory when idle", Goal: 256, Unit: "KiB", Kind: Memory, Value: imgMem})
	return nil
}

// goReactorWasm builds pong, cached by content.
func (h *harness) goReactorWasm() (string, error) {
	res, err := gobuild.Build(h.ctx, filepath.Join(h.opts.Root, goReactorDir),
		gobuild.Options{CacheDir: filepath.Join(h.opts.CacheDir, "gobuild"), Mode: gobuild.Reactor})
	if err != nil {
		return "", err
	}
	return res.Path, nil
}

// goReactorSpawns spawns n pong reactors from Go on a fresh node, each
// followed by a call it answers, and returns the p50 of spawn-to-reply
// in ns and the growth of RssAnon per process once all are idle. With
// image, the image is made before the timed spawns.
func (h *harness) goReactorSpawns(n int, image bool) (p50, private float64, err error) {
	path, err := h.goReactorWasm()
	if err != nil {
		return 0, 0, err
	}
	node, err := h.node()
	if err != nil {
		return 0, 0, err
	}
	defer node.Close(context.Background())
	mod, err := node.LoadModuleFile(h.ctx, path)
	if err != nil {
		return 0, 0, err
	}
	g, l := isle.Grants{}, isle.Limits{NoImage: !image}
	if image {
		if err := node.PrepareImage(h.ctx, mod, g, l); err != nil {
			return 0, 0, err
		}
	}
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Minute)
	defer cancel()
	procs := make([]*isle.Process, 0, n)
	samples := make([]float64, n)
	a0 := settledAnon()
	for i := range samples {
		t0 := time.Now()
		p, err := node.Spawn(ctx, mod, g, l)
		if err != nil {
			return 0, 0, err
		}
		if _, err := p.Call(ctx, isle.Message{Tag: goReactorPing, Data: []byte("ping")}); err != nil {
			return 0, 0, err
		}
		samples[i] = float64(time.Since(t0))
		procs = append(procs, p)
	}
	a1 := settledAnon()
	runtime.KeepAlive(procs)
	return percentile(samples, 0.5), (a1 - a0) / float64(n), nil
}

// bareGoReactor instantiates pong n times with wazero alone and runs its
// _initialize, returning the p50 in ns and RssAnon growth per instance.
func (h *harness) bareGoReactor(n int) (p50, private float64, err error) {
	path, err := h.goReactorWasm()
	if err != nil {
		return 0, 0, err
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(filepath.Join(h.opts.CacheDir, "wazero"))
	if err != nil {
		return 0, 0, err
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	compiled, err := rt.CompileModule(ctx, bin)
	if err != nil {
		return 0, 0, err
	}
	stub := rt.NewHostModuleBuilder("isle")
	for _, f := range compiled.ImportedFunctions() {
		if mod, name, _ := f.Import(); mod == "isle" {
			results := len(f.ResultTypes())
			stub.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) {
				clear(stack[:results])
			}), f.ParamTypes(), f.ResultTypes()).Export(name)
		}
	}
	if _, err := stub.Instantiate(ctx); err != nil {
		return 0, 0, err
	}
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions()
	mods := make([]api.Module, 0, n)
	defer func() {
		for _, m := range mods {
			_ = m.Close(ctx)
		}
	}()
	samples := make([]float64, n)
	a0 := settledAnon()
	for i := range samples {
		t0 := time.Now()
		m, err := rt.InstantiateModule(ctx, compiled, cfg)
		if err != nil {
			return 0, 0, err
		}
		mods = append(mods, m)
		if _, err := m.ExportedFunction("_initialize").Call(ctx); err != nil {
			return 0, 0, err
		}
		samples[i] = float64(time.Since(t0))
	}
	a1 := settledAnon()
	return percentile(samples, 0.5), (a1 - a0) / float64(n), nil
}

// settledAnon returns this process's anonymous resident memory (RssAnon)
// after returning the Go runtime's free pages to the OS.
func settledAnon() float64 {
	settledRSS()
	v := strings.TrimSuffix(procField("/proc/self/status", "RssAnon"), " kB")
	kb, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	return float64(kb << 10)
}
