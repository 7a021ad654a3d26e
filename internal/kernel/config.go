package kernel

import (
	"context"
	"io"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/isle-run/isle/internal/linmem"
	"github.com/isle-run/isle/internal/wasip1"
)

func withAllocator(ctx context.Context, a *linmem.Allocator) context.Context {
	return experimental.WithMemoryAllocator(ctx, a)
}

// baseConfig is the configuration every process is instantiated with:
// anonymous, with no start functions (isle runs _start itself). What a
// process is granted through WASI lives in its wasip1.State instead.
func baseConfig() wazero.ModuleConfig {
	return wazero.NewModuleConfig().WithName("").WithStartFunctions().WithRandSource(noRandom{})
}

// noRandom is wazero's random source, which nothing reads: without one,
// wazero makes a 5 KiB math/rand source for every instance.
type noRandom struct{}

// Read implements io.Reader.
func (noRandom) Read([]byte) (int, error) { return 0, io.EOF }

// moduleConfig is wazero's configuration for the process: the shared one.
func (p *Process) moduleConfig() wazero.ModuleConfig { return p.k.baseConfig }

// newWASI turns the process's grants into its WASI state. Anything not
// granted is left at a value that reveals nothing. A module that imports
// nothing from WASI cannot observe any of it and gets none.
func (p *Process) newWASI() *wasip1.State {
	if !p.mod.usesWASI {
		return nil
	}
	s := &p.spec
	cfg := wasip1.Config{Args: s.Args, Env: s.Env, Stdin: s.Stdin, Stdout: s.Stdout, Stderr: s.Stderr, Random: s.Random}
	if n := len(s.Mounts); n > 0 {
		cfg.Preopens = make([]wasip1.Preopen, 0, n+1)
	}
	for _, m := range s.Mounts {
		cfg.Preopens = append(cfg.Preopens, wasip1.Preopen{FS: m.FS, Path: m.GuestPath})
	}
	if p.k.handleFS != nil && p.mayHoldDirs() {
		cfg.Preopens = append(cfg.Preopens, wasip1.Preopen{FS: p.k.handleFS(p), Path: HandleMount})
	}
	if s.RealClock {
		cfg.Clock = wasip1.NewRealClock(p.k.epoch)
	} else {
		cfg.Clock = wasip1.NewVirtualClock()
	}
	if p.mod.isGo {
		p.goAbort = &goAbortDetector{atStart: true}
		cfg.StderrTap = p.goAbort.scan
	}
	return wasip1.New(p, cfg)
}

// mayHoldDirs reports whether the process can ever hold a directory
// handle, and so needs the HandleMount preopen: it was granted one, or it
// can receive handles in messages (a reactor, or a module importing recv,
// call or msg_handles). Every other process keeps fd 3 free, as WASI
// programs expect when they were given no directories.
func (p *Process) mayHoldDirs() bool {
	if p.mod.receivesHandles {
		return true
	}
	for _, c := range p.spec.Grants {
		if c.Kind == p.k.fsKind {
			return true
		}
	}
	return false
}

// closeWASI closes the process's files and flushes its stdout and stderr.
func (p *Process) closeWASI() {
	if p.wasi != nil {
		p.wasi.Close()
	}
}
