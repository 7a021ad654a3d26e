package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
)

// The files workload: bench/wasm/lister.c lists a directory of
// filesEntries files through WASI, and stats a path 16 levels deep, under
// isle and under bare wazero's own WASI, the same wasm in both.

const (
	filesEntries = 1000
	listerRounds = 20   // lister.c's ROUNDS
	listerStats  = 1000 // lister.c's STATS
	listerDepth  = 16
)

func runFiles(h *harness, r *Report) error {
	dir, err := os.MkdirTemp("", "isle-bench-files-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for i := range filesEntries {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("entry-%014d", i)), nil, 0o644); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, strings.Repeat("a/", listerDepth)), 0o755); err != nil {
		return err
	}
	if err := os.Symlink("a", filepath.Join(dir, "l")); err != nil {
		return err
	}
	wasm, err := h.build.wasm("lister")
	if err != nil {
		return err
	}
	entries := float64(listerRounds * (filesEntries + 4)) // the files, "a", "l", "." and ".."
	isleRuns, err := h.repeat(func() ([]float64, error) {
		t, err := h.isleLister(wasm, dir)
		return listerFigures(t, entries), err
	})
	if err != nil {
		return err
	}
	bare := h.peer(fmt.Sprintf("bare wazero %s: its own WASI", h.env.Wazero), 4, func() ([]float64, error) {
		t, err := bareLister(h.ctx, wasm, dir)
		return listerFigures(t, entries), err
	})
	note := fmt.Sprintf("the same wasm (bench/wasm/lister.c) and read-only directory; the time of a whole command, spawn included, over %d listings of %d entries, %d stats or %d opens", listerRounds, filesEntries+4, listerStats, listerStats)
	r.Rows = append(r.Rows,
		Row{Workload: "WASI fd_readdir, per entry listed", Unit: "ns", Kind: Time,
			Isle: Figure{Name: "isle: 32 entries read at a time, each charged fuel", Runs: isleRuns[0]}, Peer: bare[0], Note: note},
		Row{Workload: fmt.Sprintf("WASI path_filestat_get, %d levels deep", listerDepth), Unit: "µs", Kind: Time,
			Isle: Figure{Name: "isle: capfs, one openat2 beneath the grant", Runs: isleRuns[1]}, Peer: bare[1], Note: note},
		Row{Workload: fmt.Sprintf("WASI path_filestat_get through a symlink, %d levels deep", listerDepth), Unit: "µs", Kind: Time,
			Isle: Figure{Name: "isle: capfs, an openat a level and a readlinkat, the link's names charged (bare wazero lets the kernel follow it)", Runs: isleRuns[3]}, Peer: bare[3], Note: note},
		Row{Workload: fmt.Sprintf("WASI path_open and fd_close of a directory %d levels deep", listerDepth), Unit: "µs", Kind: Time,
			Isle: Figure{Name: "isle: capfs, one openat2 beneath the grant, after a stat the same way", Runs: isleRuns[2]}, Peer: bare[2], Note: note})
	return nil
}

// listerTimes is how long each of lister's commands took, spawn to exit.
type listerTimes struct{ list, stat, open, link time.Duration }

// listerFigures turns times into the rows' figures: ns per entry listed,
// µs per stat, per open and per stat through a link.
func listerFigures(t listerTimes, entries float64) []float64 {
	return []float64{t.list.Seconds() * 1e9 / entries, t.stat.Seconds() * 1e6 / listerStats,
		t.open.Seconds() * 1e6 / listerStats, t.link.Seconds() * 1e6 / listerStats}
}

// listerRuns runs lister's three commands with run.
func listerRuns(run func(args ...string) (time.Duration, error)) (t listerTimes, err error) {
	if t.list, err = run("lister"); err != nil {
		return t, err
	}
	if t.stat, err = run("lister", "stat"); err != nil {
		return t, err
	}
	if t.open, err = run("lister", "open"); err != nil {
		return t, err
	}
	t.link, err = run("lister", "link")
	return t, err
}

// isleLister runs lister over dir on a fresh node, listing, statting and
// opening.
func (h *harness) isleLister(wasm, dir string) (listerTimes, error) {
	node, err := h.node()
	if err != nil {
		return listerTimes{}, err
	}
	defer node.Close(context.Background())
	mod, err := node.LoadModuleFile(h.ctx, wasm)
	if err != nil {
		return listerTimes{}, err
	}
	return listerRuns(func(args ...string) (time.Duration, error) {
		t0 := time.Now()
		p, err := node.Spawn(h.ctx, mod, isle.Grants{Args: args, Dirs: []isle.Dir{{Host: dir, Guest: "/d", ReadOnly: true}}}, isle.Limits{})
		if err != nil {
			return 0, err
		}
		exit, err := p.Wait(h.ctx)
		if err == nil && exit.Kind != api.ExitNormal {
			err = fmt.Errorf("lister %v ended %v", args, exit)
		}
		return time.Since(t0), err
	})
}

// bareLister is isleLister under wazero alone.
func bareLister(ctx context.Context, wasm, dir string) (listerTimes, error) {
	bin, err := os.ReadFile(wasm)
	if err != nil {
		return listerTimes{}, err
	}
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	compiled, err := rt.CompileModule(ctx, bin)
	if err != nil {
		return listerTimes{}, err
	}
	return listerRuns(func(args ...string) (time.Duration, error) {
		cfg := wazero.NewModuleConfig().WithName("").WithArgs(args...).
			WithFSConfig(wazero.NewFSConfig().WithReadOnlyDirMount(dir, "/d"))
		t0 := time.Now()
		m, err := rt.InstantiateModule(ctx, compiled, cfg)
		if exit, ok := err.(*sys.ExitError); err != nil && (!ok || exit.ExitCode() != 0) {
			return 0, fmt.Errorf("lister %v under bare wazero: %w", args, err)
		}
		d := time.Since(t0)
		if m != nil {
			_ = m.Close(ctx)
		}
		return d, nil
	})
}
