package kernel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/fault"
	"github.com/isle-run/isle/internal/linmem"
)

// Mount places a directory capability in the guest's file system.
type Mount struct {
	FS        experimentalsys.FS
	GuestPath string
}

// Spec is everything a process is granted and limited to. The zero Spec
// grants nothing: no arguments, environment, files or stdio, a virtual
// clock that reveals nothing about the host, and no entropy.
type Spec struct {
	Args   []string
	Env    [][2]string
	Mounts []Mount
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// RealClock grants the host's wall and monotonic clocks. Without it the
	// process sees a virtual clock (see clock.go).
	RealClock bool
	// Random is the process's entropy. Nil means random_get fails.
	Random io.Reader
	// MemoryLimit caps linear memory in bytes; zero means 4 GiB.
	MemoryLimit uint64
	// Fuel is the total budget; zero means unlimited.
	Fuel int64
	// Timeout kills the process after this long; zero means never.
	Timeout time.Duration
}

// Stats is what a process has consumed so far.
type Stats struct {
	Fuel       int64
	PeakMemory uint64
	Wall       time.Duration
}

// Process is one running instance of a Module.
type Process struct {
	ID   uint64
	k    *Kernel
	mod  *Module
	spec Spec
	ctx  context.Context // carries the process to host functions

	alloc   linmem.Allocator
	fuel    fuelState // owned by the running goroutine
	spent   atomic.Int64
	started time.Time
	ended   atomic.Int64 // UnixNano when the process ended, 0 while it runs

	killReason atomic.Pointer[string]
	killCh     chan struct{} // closed by the first Kill
	done       chan struct{} // closed once exit is set
	exit       isleapi.Exit
	goAbort    *goAbortDetector
}

type procKey struct{}

func processFrom(ctx context.Context) *Process {
	p, _ := ctx.Value(procKey{}).(*Process)
	return p
}

// ErrNotCommand is returned when spawning a module that has no _start.
var ErrNotCommand = errors.New("module exports no _start function: it is not a WASI command")

// Spawn starts a process running m's _start on its own goroutine.
func (k *Kernel) Spawn(ctx context.Context, m *Module, spec Spec) (*Process, error) {
	if !isCommand(m.compiled) {
		return nil, fmt.Errorf("%s: %w", m.Name, ErrNotCommand)
	}
	if spec.MemoryLimit != 0 && m.minMemory > spec.MemoryLimit {
		return nil, fmt.Errorf("%s: needs %d bytes of memory at start, over its limit of %d",
			m.Name, m.minMemory, spec.MemoryLimit)
	}
	p := &Process{k: k, mod: m, spec: spec, killCh: make(chan struct{}), done: make(chan struct{})}
	p.alloc.Limit = spec.MemoryLimit
	p.fuel = fuelState{budget: -1, slice: k.fuelSlice}
	if spec.Fuel > 0 {
		p.fuel.budget = spec.Fuel
	}
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil, errors.New("node is closed")
	}
	k.nextPID++
	p.ID = k.nextPID
	k.procs[p.ID] = p
	k.mu.Unlock()

	p.ctx = context.WithValue(withAllocator(context.WithoutCancel(ctx), &p.alloc), procKey{}, p)
	cfg := p.moduleConfig()
	stop := context.AfterFunc(ctx, func() { p.Kill(contextReason(ctx)) })
	p.started = time.Now()
	var timer *time.Timer
	if spec.Timeout > 0 {
		timer = time.AfterFunc(spec.Timeout, func() { p.Kill("timeout") })
	}
	go func() {
		p.run(cfg)
		stop()
		if timer != nil {
			timer.Stop()
		}
	}()
	return p, nil
}

func contextReason(ctx context.Context) string {
	if c := context.Cause(ctx); c != nil {
		return c.Error()
	}
	return "context done"
}

// run instantiates the module and runs _start to its end.
func (p *Process) run(cfg wazero.ModuleConfig) {
	err := p.instantiateAndStart(cfg)
	p.charge()
	p.exit = p.classify(err)
	p.ended.Store(time.Now().UnixNano())
	p.k.mu.Lock()
	delete(p.k.procs, p.ID)
	p.k.mu.Unlock()
	close(p.done)
	p.k.log.Debug("process exited", "pid", p.ID, "module", p.mod.Name, "exit", p.exit.String())
}

func (p *Process) instantiateAndStart(cfg wazero.ModuleConfig) (err error) {
	// wazero panics, rather than failing, when a memory allocator cannot
	// provide a module's initial memory; keep that from taking the node.
	defer func() {
		if r := recover(); r != nil {
			err = &fault.Abandon{Cause: isleapi.CauseHostFault, Detail: fmt.Sprint("instantiate: ", r)}
			if aerr := p.alloc.Err(); aerr != nil {
				err = &fault.Abandon{Cause: isleapi.CauseHostFault, Detail: aerr.Error()}
			}
		}
	}()
	mod, err := p.k.rt.InstantiateModule(p.ctx, p.mod.compiled, cfg)
	if err != nil {
		return err
	}
	defer mod.Close(context.Background())
	if r := p.killReason.Load(); r != nil { // a kill that raced with the spawn wins
		return &fault.Kill{Reason: *r}
	}
	_, err = mod.ExportedFunction(entryPoint).Call(p.ctx)
	return err
}

// classify turns how _start ended into a typed exit.
func (p *Process) classify(err error) isleapi.Exit {
	if err == nil {
		return isleapi.Exit{Kind: isleapi.ExitNormal}
	}
	var kill *fault.Kill
	if errors.As(err, &kill) {
		return isleapi.Exit{Kind: isleapi.ExitKilled, Killed: kill.Reason}
	}
	var exitErr *sys.ExitError
	if errors.As(err, &exitErr) {
		code := exitErr.ExitCode()
		if p.goAbort != nil && code == 2 {
			if msg := p.goAbort.message(); msg != "" {
				return isleapi.Exit{Kind: isleapi.ExitAbandoned,
					Abandon: &isleapi.Abandonment{Cause: isleapi.CauseRuntimeAbort, Detail: "go: " + msg}}
			}
		}
		return isleapi.Exit{Kind: isleapi.ExitNormal, Code: code}
	}
	return isleapi.Exit{Kind: isleapi.ExitAbandoned, Abandon: fault.FromError(err)}
}

// Kill ends the process from outside. It takes effect at the process's next
// visit to the host: at most one fuel slice away, and at once for a process
// blocked in a sleep. Killing an ended process does nothing.
func (p *Process) Kill(reason string) {
	if p.killReason.CompareAndSwap(nil, &reason) {
		close(p.killCh)
	}
}

// checkKilled abandons the current host call if the process was killed.
func (p *Process) checkKilled() {
	if r := p.killReason.Load(); r != nil {
		panic(&fault.Kill{Reason: *r})
	}
}

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait blocks until the process ends or ctx is done.
func (p *Process) Wait(ctx context.Context) (isleapi.Exit, error) {
	select {
	case <-p.done:
		return p.exit, nil
	case <-ctx.Done():
		return isleapi.Exit{}, ctx.Err()
	}
}

// Module returns the module the process runs.
func (p *Process) Module() *Module { return p.mod }

// Stats reports fuel used, peak linear memory and wall time. Fuel is exact
// once the process has ended; while it runs it lags by up to one slice.
func (p *Process) Stats() Stats {
	end := time.Now()
	if e := p.ended.Load(); e != 0 {
		end = time.Unix(0, e)
	}
	return Stats{Fuel: p.spent.Load(), PeakMemory: p.alloc.PeakBytes(), Wall: end.Sub(p.started)}
}

func formatCount(n int64) string { return strconv.FormatInt(n, 10) }
