package kernel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/fault"
	"github.com/isle-run/isle/internal/linmem"
	"github.com/isle-run/isle/internal/wasip1"
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
	// process sees a virtual clock (see wasip1.NewVirtualClock).
	RealClock bool
	// Random is the process's entropy. Nil means random_get fails.
	Random io.Reader
	// Grants are named capabilities the process can look up with grant().
	Grants map[string]Cap
	// MemoryLimit caps linear memory in bytes; zero means 4 GiB.
	MemoryLimit uint64
	// Fuel is the total budget; zero means unlimited.
	Fuel int64
	// Timeout kills the process after this long; zero means never.
	Timeout time.Duration
	// Mailbox bounds the mailbox; zero means DefaultMailbox.
	Mailbox int
	// OnExit, if set, runs once the process has ended, before Wait returns.
	OnExit func()
	// Init, if set, is queued as the process's first message.
	Init *Message
}

// Stats is what a process has consumed so far.
type Stats struct {
	Fuel       int64
	PeakMemory uint64
	Wall       time.Duration
	Queued     int
}

// Process is one isolated instance of a Module: a command running _start
// on its own goroutine, or a reactor whose turns the scheduler runs.
type Process struct {
	ID      uint64
	k       *Kernel
	mod     *Module
	spec    Spec
	ctx     context.Context // carries the process to host functions
	reactor bool
	parent  *Process // for the spawn quota; nil for processes the host spawned

	// The instance and everything below it up to mu belong to whoever runs
	// the process: its goroutine (a command) or the worker running its turn
	// (a reactor). Only one of those exists at a time.
	inst        api.Module
	handler     api.Function // reactors: isle_handle, found at the first turn
	stack       []uint64
	initialized bool // reactors: _initialize has run
	inbox       uint32
	inboxCap    uint32
	handles     HandleTable
	self        Handle
	grants      map[string]Handle
	current     *Message          // the message being handled
	curHandles  []Handle          // its handles, in this process's numbering
	watching    map[uint32]*watch // monitors this process holds, by ref
	nextRef     uint32
	turnWorker  *worker    // the worker running the current turn, if a reactor
	pending     *replySlot // the call this process waits on, if any
	stopCtx     func() bool
	timer       *time.Timer
	// instantiating is set while a reactor's start function runs inside
	// its spawner's call, so that a kill of the spawner ends it too.
	instantiating bool
	alloc         linmem.Allocator
	fuel          fuelState
	goAbort       *goAbortDetector
	wasi          *wasip1.State // nil if the module imports nothing from WASI

	spent    atomic.Int64
	started  time.Time
	ended    atomic.Int64 // UnixNano when the process ended, 0 while it runs
	children atomic.Int64 // live children, for the spawn quota
	trap     atomic.Bool  // trap exits

	mu       sync.Mutex // guards everything below
	mbox     mailbox
	links    map[*Process]struct{}
	monitors map[*watch]struct{} // monitors on this process
	dead     bool

	killReason atomic.Pointer[string]
	killCh     chan struct{} // closed by the first Kill
	done       chan struct{} // closed once exit is set
	exit       isleapi.Exit
}

type procKey struct{}

func processFrom(ctx context.Context) *Process {
	p, _ := ctx.Value(procKey{}).(*Process)
	return p
}

// Errors from Spawn.
var (
	ErrNotRunnable = errors.New("module exports neither _start (a command) nor isle_handle (a reactor)")
	ErrNodeClosed  = errors.New("node is closed")
	// ErrStartFailed wraps why a reactor ended before its spawn returned:
	// its start function trapped, ran out of fuel, or was killed.
	ErrStartFailed = errors.New("the process ended while it started")
)

// Spawn starts a process. A command runs _start on its own goroutine; a
// reactor is instantiated now and runs a turn per message.
func (k *Kernel) Spawn(ctx context.Context, m *Module, spec Spec) (*Process, error) {
	return k.spawn(ctx, m, spec, nil)
}

func (k *Kernel) spawn(ctx context.Context, m *Module, spec Spec, parent *Process) (*Process, error) {
	return k.spawnLinked(ctx, m, spec, parent, false)
}

func (k *Kernel) spawnLinked(ctx context.Context, m *Module, spec Spec, parent *Process, link bool) (*Process, error) {
	if m.kind == kindNone {
		return nil, fmt.Errorf("%s: %w", m.Name, ErrNotRunnable)
	}
	if spec.MemoryLimit != 0 && m.minMemory > spec.MemoryLimit {
		return nil, fmt.Errorf("%s: needs %d bytes of memory at start, over its limit of %d",
			m.Name, m.minMemory, spec.MemoryLimit)
	}
	p := &Process{k: k, mod: m, spec: spec, parent: parent, reactor: m.kind == kindReactor,
		killCh: make(chan struct{}), done: make(chan struct{})}
	p.alloc.Limit = spec.MemoryLimit
	p.fuel = fuelState{budget: -1, slice: k.fuelSlice}
	if spec.Fuel > 0 {
		p.fuel.budget = spec.Fuel
	}
	p.mbox.limit = spec.Mailbox
	if p.mbox.limit <= 0 {
		p.mbox.limit = DefaultMailbox
	}
	p.mbox.wake = make(chan struct{}, 1)
	if err := k.register(p); err != nil {
		return nil, err
	}
	if err := p.installGrants(); err != nil {
		k.unregister(p)
		return nil, err
	}
	p.ctx = context.WithValue(withAllocator(context.WithoutCancel(ctx), &p.alloc), procKey{}, p)
	p.wasi = p.newWASI()
	p.started = time.Now()
	// Armed before instantiating: a module's start function runs inside
	// instantiate, and one that never returns must still meet its timeout,
	// its context, or the kill of whoever is spawning it.
	p.watchLimits(ctx)
	if p.reactor {
		// Until it is ready, the spawner owns the reactor: a kill that
		// arrives meanwhile must not queue a half-made process.
		p.mu.Lock()
		p.mbox.sched = schedRunning
		p.mu.Unlock()
		p.instantiating = true
		err := p.instantiate()
		p.instantiating = false
		if err != nil {
			p.disarm()
			p.closeWASI()
			p.handles.releaseAll()
			k.unregister(p)
			return nil, fmt.Errorf("%s: %w: %w", m.Name, ErrStartFailed, err)
		}
	}
	if spec.Init != nil {
		spec.Init.Tag = TagInit
		p.mu.Lock()
		p.mbox.append(spec.Init) // no handle to p exists yet: it is first
		p.mu.Unlock()
		p.spec.Init = nil
	}
	if link {
		parent.Link(p)
	}
	if !p.reactor {
		go p.runCommand()
		return p, nil
	}
	// The first turn runs _initialize, if there is one; otherwise the
	// reactor is idle until its first message (or its kill).
	p.initialized = !m.hasInitialize
	p.mu.Lock()
	queue := m.hasInitialize || p.mbox.len() > 0 || p.killReason.Load() != nil
	if queue {
		p.mbox.sched = schedQueued
	} else {
		p.mbox.sched = schedIdle
	}
	p.mu.Unlock()
	if queue {
		k.sched.ready(p, nil)
	}
	return p, nil
}

// installGrants puts the self handle and the named grants in the table.
func (p *Process) installGrants() error {
	var err error
	if p.self, err = p.handles.Insert(Cap{Kind: KindProcess, Rights: AllProcessRights, Object: p}); err != nil {
		return err
	}
	p.grants = make(map[string]Handle, len(p.spec.Grants))
	for name, c := range p.spec.Grants {
		h, err := p.handles.Insert(c)
		if err != nil {
			return err
		}
		p.grants[name] = h
	}
	return nil
}

// watchLimits arranges for a timeout and for ctx's end to kill p. finish
// disarms both. A context that can never end costs nothing.
func (p *Process) watchLimits(ctx context.Context) {
	if ctx.Done() != nil {
		p.stopCtx = context.AfterFunc(ctx, func() { p.Kill(contextReason(ctx)) })
	}
	if p.spec.Timeout > 0 {
		p.timer = time.AfterFunc(p.spec.Timeout, func() { p.Kill("timeout") })
	}
}

// disarm stops the timeout and context watch of watchLimits.
func (p *Process) disarm() {
	if p.stopCtx != nil {
		p.stopCtx()
	}
	if p.timer != nil {
		p.timer.Stop()
	}
}

func contextReason(ctx context.Context) string {
	if c := context.Cause(ctx); c != nil {
		return c.Error()
	}
	return "context done"
}

// instantiate creates the wasm instance and readies its fuel counter.
func (p *Process) instantiate() (err error) {
	// wazero panics, rather than failing, when a memory allocator cannot
	// provide a module's initial memory; keep that from taking the node.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("instantiate: %v", r)
			if aerr := p.alloc.Err(); aerr != nil {
				err = aerr
			}
		}
	}()
	inst, err := p.k.rt.InstantiateModule(p.ctx, p.mod.compiled, p.moduleConfig())
	if err != nil {
		return err
	}
	p.inst = inst
	if g, ok := inst.ExportedGlobal(fuelGlobalExport).(api.MutableGlobal); ok {
		p.fuel.counter = g
	}
	return nil
}

// finish ends the process: it tears down the mailbox, the handle table and
// the instance, tells links and monitors, and publishes the exit. It runs
// on the process's own goroutine or on the worker that ran its last turn.
func (p *Process) finish(exit isleapi.Exit) {
	p.charge()
	p.closeWASI()
	p.mu.Lock()
	p.dead = true
	pending := p.mbox.drain()
	links, monitors := p.links, p.monitors
	p.links, p.monitors = nil, nil
	p.mu.Unlock()
	for _, m := range pending {
		m.release()
		m.recycle()
	}
	p.setCurrent(nil)
	if p.pending != nil {
		p.pending.abandon()
	}
	p.handles.releaseAll()
	for _, w := range p.watching {
		w.cancel()
	}
	if p.inst != nil {
		_ = p.inst.Close(context.Background())
	}
	p.exit = exit
	p.ended.Store(time.Now().UnixNano())
	if p.parent != nil {
		p.parent.children.Add(-1)
	}
	p.disarm()
	if p.spec.OnExit != nil {
		p.spec.OnExit()
	}
	p.k.unregister(p)
	// Publish the exit before telling anyone: a process that receives the
	// exit or down signal must find this one ended.
	close(p.done)
	for l := range links {
		l.exitSignal(p, exit, false)
	}
	for w := range monitors {
		w.down(exit, false)
	}
	if p.k.log.Enabled(context.Background(), slog.LevelDebug) {
		p.k.log.Debug("process exited", "pid", p.ID, "module", p.mod.Name, "exit", exit.String())
	}
}

// classify turns how a guest call ended into a typed exit.
func (p *Process) classify(err error) isleapi.Exit {
	if err == nil {
		return isleapi.Exit{Kind: isleapi.ExitNormal}
	}
	var kill *fault.Kill
	if errors.As(err, &kill) {
		return isleapi.Exit{Kind: isleapi.ExitKilled, Killed: kill.Reason}
	}
	var exitErr interface{ ExitCode() uint32 }
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
	ab := fault.FromError(err)
	// A Go reactor (c-shared) that panics aborts with a trap rather than
	// exiting 2; its stderr still carries the runtime's reason.
	if p.goAbort != nil && ab.Cause == isleapi.CauseUnreachable {
		if msg := p.goAbort.message(); msg != "" {
			ab.Cause, ab.Detail = isleapi.CauseRuntimeAbort, "go: "+msg
		}
	}
	return isleapi.Exit{Kind: isleapi.ExitAbandoned, Abandon: ab}
}

// Kill ends the process from outside. A running process stops at its next
// visit to the host (at most one fuel slice away, and at once if it is
// blocked); an idle reactor is scheduled so a worker can tear it down.
// Killing an ended process does nothing.
func (p *Process) Kill(reason string) {
	if !p.killReason.CompareAndSwap(nil, &reason) {
		return
	}
	close(p.killCh)
	if p.reactor {
		p.mu.Lock()
		schedule := !p.dead && p.mbox.sched == schedIdle
		if schedule {
			p.mbox.sched = schedQueued
		}
		p.mu.Unlock()
		if schedule {
			p.k.sched.ready(p, nil)
		}
	}
}

// CheckKilled ends the current host call, and with it the guest's run, if
// the process has been killed.
func (p *Process) CheckKilled() { p.checkKilled() }

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

// Exit returns how the process ended; ok is false while it runs.
func (p *Process) Exit() (isleapi.Exit, bool) {
	select {
	case <-p.done:
		return p.exit, true
	default:
		return isleapi.Exit{}, false
	}
}

// Module returns the module the process runs.
func (p *Process) Module() *Module { return p.mod }

// Reactor reports whether the process is a reactor.
func (p *Process) Reactor() bool { return p.reactor }

// Stats reports fuel used, peak linear memory and wall time. Fuel is exact
// once the process has ended; while it runs it lags by up to one slice.
func (p *Process) Stats() Stats {
	end := time.Now()
	if e := p.ended.Load(); e != 0 {
		end = time.Unix(0, e)
	}
	p.mu.Lock()
	queued := p.mbox.len()
	p.mu.Unlock()
	return Stats{Fuel: p.spent.Load(), PeakMemory: p.alloc.PeakBytes(), Wall: end.Sub(p.started), Queued: queued}
}

func formatCount(n int64) string { return strconv.FormatInt(n, 10) }
