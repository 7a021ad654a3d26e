package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/gobuild"
)

// The Go command workload: testdata/go/hello spawned from Go and waited
// for, from an image cut at main.main and with Limits.NoImage, beside bare
// wazero running its _start and the same program built for this machine
// and run as an OS process.

const goHelloDir = "testdata/go/hello"

func runGoCommand(h *harness, r *Report) error {
	n := h.sz.goReactors
	measure := func(image bool) ([][]float64, error) {
		return h.repeat(func() ([]float64, error) {
			p50, err := h.goCommandRuns(n, image)
			return []float64{p50 / 1e3}, err
		})
	}
	imaged, err := measure(true)
	if err != nil {
		return fmt.Errorf("a Go command from an image: %w", err)
	}
	own, err := measure(false)
	if err != nil {
		return fmt.Errorf("a Go command running its own init: %w", err)
	}
	img := Figure{Name: "isle: Go command from an image (default)", Runs: imaged[0]}
	ownF := Figure{Name: "isle: the same with `Limits.NoImage` (runs the runtime's init)", Runs: own[0]}
	bare := h.peer(fmt.Sprintf("bare wazero %s: `InstantiateModule` running `_start`", h.env.Wazero), 1,
		func() ([]float64, error) {
			p50, err := h.bareGoCommand(n)
			return []float64{p50 / 1e3}, err
		})
	native := h.peer("the same program built for this machine, run as an OS process (`os/exec`)", 1,
		func() ([]float64, error) {
			p50, err := h.nativeGoCommand(n)
			return []float64{p50 / 1e3}, err
		})
	w := "Go command (hello): spawn to exit p50, from Go"
	note := fmt.Sprintf("%d runs of a Go hello per round, each waited for; stdout discarded", n)
	r.Rows = append(r.Rows,
		Row{Workload: w, Unit: "µs", Kind: Time, Isle: img, Peer: ownF, Note: note},
		Row{Workload: w, Unit: "µs", Kind: Time, Isle: img, Peer: bare[0], Note: note + "; bare wazero: its own WASI"},
		Row{Workload: w, Unit: "µs", Kind: Time, Isle: img, Peer: native[0], Note: note + "; OS process: fork, exec and the Go runtime's start"})
	r.Targets = append(r.Targets,
		Target{What: "Go hello command, spawn to exit p50", Goal: 2000, Unit: "µs", Kind: Time, Value: img})
	return nil
}

// goHelloWasm builds hello for wasip1, cached by content.
func (h *harness) goHelloWasm() (string, error) {
	res, err := gobuild.Build(h.ctx, filepath.Join(h.opts.Root, goHelloDir),
		gobuild.Options{CacheDir: filepath.Join(h.opts.CacheDir, "gobuild")})
	if err != nil {
		return "", err
	}
	return res.Path, nil
}

// goCommandRuns spawns hello n times on a fresh node, waiting for each to
// exit, and returns the p50 in ns. With image, the image is made first.
func (h *harness) goCommandRuns(n int, image bool) (float64, error) {
	path, err := h.goHelloWasm()
	if err != nil {
		return 0, err
	}
	node, err := h.node()
	if err != nil {
		return 0, err
	}
	defer node.Close(context.Background())
	mod, err := node.LoadModuleFile(h.ctx, path)
	if err != nil {
		return 0, err
	}
	g, l := isle.Grants{Args: []string{"hello"}, Stdout: io.Discard}, isle.Limits{NoImage: !image}
	if image {
		if err := node.PrepareImage(h.ctx, mod, g, l); err != nil {
			return 0, err
		}
	}
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Minute)
	defer cancel()
	samples := make([]float64, n)
	for i := range samples {
		t0 := time.Now()
		p, err := node.Spawn(ctx, mod, g, l)
		if err != nil {
			return 0, err
		}
		exit, err := p.Wait(ctx)
		if err != nil {
			return 0, err
		}
		if exit.Kind != api.ExitNormal || exit.Code != 0 {
			return 0, fmt.Errorf("hello exited %v", exit)
		}
		samples[i] = float64(time.Since(t0))
	}
	return percentile(samples, 0.5), nil
}

// bareGoCommand instantiates hello n times with wazero alone, which runs
// its _start, and returns the p50 in ns.
func (h *harness) bareGoCommand(n int) (float64, error) {
	path, err := h.goHelloWasm()
	if err != nil {
		return 0, err
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(filepath.Join(h.opts.CacheDir, "wazero"))
	if err != nil {
		return 0, err
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	compiled, err := rt.CompileModule(ctx, bin)
	if err != nil {
		return 0, err
	}
	cfg := wazero.NewModuleConfig().WithName("").WithArgs("hello").WithStdout(io.Discard).
		WithSysWalltime().WithSysNanotime().WithRandSource(nil)
	samples := make([]float64, n)
	for i := range samples {
		t0 := time.Now()
		m, err := rt.InstantiateModule(ctx, compiled, cfg)
		if exit, ok := err.(*sys.ExitError); err != nil && (!ok || exit.ExitCode() != 0) {
			return 0, fmt.Errorf("hello under bare wazero: %w", err)
		}
		samples[i] = float64(time.Since(t0))
		if m != nil {
			_ = m.Close(ctx)
		}
	}
	return percentile(samples, 0.5), nil
}

// nativeGoCommand builds hello for this machine and runs it n times as an
// OS process, returning the p50 in ns.
func (h *harness) nativeGoCommand(n int) (float64, error) {
	dir := filepath.Join(h.opts.CacheDir, "native-go")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	bin := filepath.Join(dir, "hello")
	build := exec.CommandContext(h.ctx, "go", "build", "-o", bin, ".")
	build.Dir = filepath.Join(h.opts.Root, goHelloDir)
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("go build: %v: %s", err, out)
	}
	samples := make([]float64, n)
	for i := range samples {
		t0 := time.Now()
		if err := exec.CommandContext(h.ctx, bin).Run(); err != nil {
			return 0, err
		}
		samples[i] = float64(time.Since(t0))
	}
	return percentile(samples, 0.5), nil
}
