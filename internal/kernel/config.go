package kernel

import (
	"context"
	"io"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/isle-run/isle/internal/wasip1"
)

// procContext is the context a process's guest code and host calls run
// with: the spawner's values, never its cancellation (as
// context.WithoutCancel), and the process itself. It lives in the Process,
// so that the spawn allocates no context of its own.
type procContext struct {
	parent context.Context
	p      *Process
}

// Deadline implements context.Context: none.
func (procContext) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done implements context.Context: never done.
func (procContext) Done() <-chan struct{} { return nil }

// Err implements context.Context: never cancelled.
func (procContext) Err() error { return nil }

// Value implements context.Context. wazero asks at every guest call
// whether snapshots are enabled: they never are for a process, and that
// answer comes first, before a walk of the spawner's context could cost a
// twentieth of a message's CPU. Then the process, which host functions
// look for when their context is not this one; then the process's linear
// memory allocator, as experimental.WithMemoryAllocator would give it.
func (c *procContext) Value(key any) any {
	if snapshotKeyProbe.Value(key) != nil {
		return nil
	}
	if _, ok := key.(procKey); ok {
		return c.p
	}
	if allocKeyProbe.Value(key) != nil {
		return &c.p.alloc
	}
	return c.parent.Value(key)
}

// allocKeyProbe answers only wazero's memory allocator key, whose type is
// internal to wazero: a context that answers what it answers gives
// wazero an allocator without a context.WithValue per process.
var allocKeyProbe = experimental.WithMemoryAllocator(context.Background(), probeAllocator{})

// snapshotKeyProbe answers only wazero's key that enables snapshots (see
// allocKeyProbe). isle gives guests no way to take one.
var snapshotKeyProbe = experimental.WithSnapshotter(context.Background())

// probeAllocator is allocKeyProbe's value; it never allocates.
type probeAllocator struct{}

// Allocate implements experimental.MemoryAllocator.
func (probeAllocator) Allocate(uint64, uint64) experimental.LinearMemory { return nil }

// setContext makes p's context from its spawner's ctx, allocating nothing.
// A spawner's own process context adds nothing p's does not override, so
// p's is made from what that one was made from: every lookup of a value
// the host put in the context walks one process context, not one per
// generation.
func (p *Process) setContext(ctx context.Context) {
	for {
		pc, ok := ctx.(*procContext)
		if !ok {
			break
		}
		ctx = pc.parent
	}
	p.pctx = procContext{parent: ctx, p: p}
}

// callCtx is the context guest calls run under: it carries the process to
// host functions, and the spawner's context's values, never its
// cancellation (see procContext).
// Precondition: setContext has run.
func (p *Process) callCtx() context.Context { return &p.pctx }

// baseConfig is the configuration every process is instantiated with:
// anonymous, with no start functions (isle runs _start itself). What a
// process is granted through WASI lives in its wasip1.State instead.
//
// wazero still builds a system context (clocks, stdio) for every instance,
// which only its own WASI host functions read, and isle provides its own:
// the shared clocks below, which read zero, spare it the two closures it
// would make per instance.
func baseConfig() wazero.ModuleConfig {
	return wazero.NewModuleConfig().WithName("").WithStartFunctions().WithRandSource(noRandom{}).
		WithWalltime(zeroWalltime, sys.ClockResolution(time.Microsecond)).
		WithNanotime(zeroNanotime, sys.ClockResolution(time.Microsecond))
}

// zeroWalltime and zeroNanotime are wazero's clocks, which nothing reads.
func zeroWalltime() (int64, int32) { return 0, 0 }
func zeroNanotime() int64          { return 0 }

// noRandom is wazero's random source, which nothing reads: without one,
// wazero makes a 5 KiB math/rand source for every instance.
type noRandom struct{}

// Read implements io.Reader.
func (noRandom) Read([]byte) (int, error) { return 0, io.EOF }

// moduleConfig is wazero's configuration for the process: the shared one.
func (p *Process) moduleConfig() wazero.ModuleConfig { return p.k.baseConfig }

// wasiConfig turns a spec's grants into the WASI configuration a process
// of m gets. Anything not granted is left at a value that reveals nothing.
// A process that may hold directory handles gets the HandleMount preopen
// last, with no file system yet: newWASI makes it per process.
func (k *Kernel) wasiConfig(m *Module, s *Spec) wasip1.Config {
	cfg := wasip1.Config{Args: s.Args, Env: s.Env, Stdin: s.Stdin, Stdout: s.Stdout, Stderr: s.Stderr, Random: s.Random}
	if n := len(s.Mounts); n > 0 {
		cfg.Preopens = make([]wasip1.Preopen, 0, n+1)
	}
	for _, m := range s.Mounts {
		cfg.Preopens = append(cfg.Preopens, wasip1.Preopen{FS: m.FS, Path: m.GuestPath})
	}
	if k.handleFS != nil && k.mayHoldDirs(m, s) {
		cfg.Preopens = append(cfg.Preopens, wasip1.Preopen{Path: HandleMount})
	}
	if s.RealClock {
		cfg.Clock = wasip1.NewRealClock(k.epoch)
	} else {
		cfg.Clock = wasip1.NewVirtualClock()
	}
	return cfg
}

// newWASI makes the process's WASI state from cfg (see wasiConfig). A
// module that imports nothing from WASI cannot observe any of it and gets
// none.
func (p *Process) newWASI(cfg *wasip1.Config) *wasip1.State {
	if !p.mod.usesWASI {
		return nil
	}
	if n := len(cfg.Preopens); n > 0 && cfg.Preopens[n-1].Path == HandleMount && cfg.Preopens[n-1].FS == nil {
		cfg.Preopens[n-1].FS = p.k.handleFS(p)
	}
	if p.mod.isGo {
		d := &goAbortDetector{atStart: true}
		p.extra.goAbort = d // extrasOf made extra for a Go module
		cfg.StderrTap = d.scan
	}
	cfg.Files = p
	return wasip1.New(p, *cfg)
}

// mayHoldDirs reports whether a process of m with spec s can ever hold a
// directory handle, and so needs the HandleMount preopen: it was granted
// one, or it can receive handles in messages (a reactor, or a module
// importing recv, call or msg_handles). Every other process keeps fd 3
// free, as WASI programs expect when they were given no directories.
func (k *Kernel) mayHoldDirs(m *Module, s *Spec) bool {
	if m.receivesHandles {
		return true
	}
	for _, c := range s.Grants {
		if c.Kind == k.fsKind {
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
