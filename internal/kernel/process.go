package kernel

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/fault"
	"github.com/isle-run/isle/internal/linmem"
	"github.com/isle-run/isle/internal/wasip1"
)

// Stats is what a process has consumed so far.
type Stats struct {
	Fuel int64
	// Memory and PeakMemory are the process's memory account, now and at
	// its largest: linear memory, tables, call stack, queued messages,
	// host buffers and kernel state.
	Memory     uint64
	PeakMemory uint64
	// PeakLinear is the largest its linear memory grew.
	PeakLinear uint64
	Wall       time.Duration
	Queued     int
}

// Process is one isolated instance of a Module: a command running _start
// on its own goroutine, or a reactor whose turns the scheduler runs.
type Process struct {
	ID     uint64
	k      *Kernel
	mod    *Module
	pctx   procContext // carries the process to host functions (see callCtx)
	extra  *extras     // what only some processes have, or nil
	parent *Process    // nil for processes the host spawned
	group  *Group      // the tree's shared budget
	// groupNext and groupPrev link the group's members. Guarded by
	// group.mu.
	groupNext, groupPrev *Process

	// The instance and everything below it up to mu belong to whoever runs
	// the process: its goroutine (a command) or the worker running its turn
	// (a reactor). Only one of those exists at a time.
	inst       api.Module
	inbox      uint32
	slot       uint32 // reactors: its handler's dispatch slot, while it has an instance (dispatch.go)
	inboxCap   uint32
	handles    HandleTable
	self       Handle
	nextRef    uint32
	grants     map[string]Handle
	current    *Message          // the message being handled
	ownTrace   uint64            // causality id of what it sends outside any message
	span       *openSpan         // the span its sends descend from, once traced (trace.go)
	curHandles []Handle          // its handles, in this process's numbering
	watching   map[uint32]*watch // monitors this process holds, by ref
	turnWorker *worker           // the worker running the current turn, if a reactor
	turnSlices int32             // fuel slices the current turn has run
	// Beside turnSlices, where they cost no room.
	initialized bool // reactors: _initialize has run
	detached    bool // the current turn gave its worker up (see detachSlices)
	// instantiating is set while a reactor's start function runs inside
	// its spawner's call, so that a kill of the spawner ends it too (see
	// spawnerKill).
	instantiating bool
	pending       *replySlot // the call this process waits on, if any
	// dormant, set while a reactor has no instance, is what it kept of
	// one (dormant.go). Set and cleared by its owner under mu.
	dormant   *dormancy
	alloc     linmem.Allocator
	fuel      fuelState
	callStack stackState
	wasi      *wasip1.State // nil if the module imports nothing from WASI
	sent      uint64        // messages sent, replies included (see mbox.sent)

	spent     atomic.Int64
	unsettled atomic.Int64 // fuel used but not yet in spent, as of noteFuel
	mem       atomic.Int64 // bytes charged to the memory account
	peakMem   atomic.Int64
	memClosed atomic.Bool   // the account is settled: the process has ended
	trap      atomic.Bool   // trap exits
	started   time.Duration // since the kernel's epoch (monotonic)
	ended     atomic.Int64  // UnixNano when the process ended, 0 while it runs

	// signalling is held by finish from the moment the process is dead
	// until its links are told. A link or monitor that finds the process
	// dead waits on it, so its noproc signal never overtakes the exit
	// signal a linked process gets: a process killed by a link never sees
	// a DOWN for the same death first. Lock order: signalling, then mu.
	signalling sync.Mutex

	mu       sync.Mutex // guards mbox, links, monitors and dead
	mbox     mailbox
	links    map[Target]struct{}
	monitors watchList // monitors on this process
	dead     bool
	turned   bool // a turn began since the last engine sweep

	// Set once, before the process runs, and packed here beside the
	// other flags to keep the Process small.
	reactor bool
	noImage bool // from its Spec: children start without images too
	// linkChunks and watchChunks count the chunks of room for links
	// (guarded by mu) and for the monitors it holds (its owner's) that its
	// account pays for: see roomForLink and Monitor.
	linkChunks, watchChunks uint16

	killReason atomic.Pointer[string]
	killCh     lazyChan // closed by the first Kill
	done       lazyChan // closed once exit and crash are set

	// Written by the owner in finish, before done is closed, and read
	// only after: the close publishes them.
	exit *isleapi.Exit // see pexit
	// crash is the message being handled when the process ended, if it
	// ended abnormally while handling one.
	crash *crashNote
}

// service returns the service the process is an instance of, or nil.
func (p *Process) service() *Service {
	if p.extra == nil {
		return nil
	}
	return p.extra.service
}

// crashNote is what a process that ended abnormally keeps of the message
// it was handling.
type crashNote struct {
	tag, trace, traceHi uint64
	chain               hops // the hops that led to the message
}

type procKey struct{}

func processFrom(ctx context.Context) *Process {
	if c, ok := ctx.(*procContext); ok {
		return c.p
	}
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

// Spawn starts a process as the root of a new tree, whose limits are the
// spec's. A command runs _start on its own goroutine; a reactor is
// instantiated now and runs a turn per message.
//
// Safe from any goroutine.
func (k *Kernel) Spawn(ctx context.Context, m *Module, spec Spec) (*Process, error) {
	if err := m.runnable(spec.MemoryLimit); err != nil {
		return nil, err
	}
	g := k.newGroup(ctx, GroupLimits{Memory: int64(spec.MemoryLimit), Fuel: spec.Fuel,
		Processes: spec.Processes, Timeout: spec.Timeout, Files: spec.Files})
	init := spec.Init
	spec.Init = nil
	p, err := k.spawn(ctx, m, spec, nil, g, init, false)
	if err != nil {
		g.disarm()
		return nil, err
	}
	return p, nil
}

// runnable checks that processes can be started from m under a memory
// limit.
func (m *Module) runnable(limit uint64) error {
	if m.kind == kindNone {
		return fmt.Errorf("%s: %w", m.Name, ErrNotRunnable)
	}
	if need := m.minMemory + ProcessOverhead + uint64(m.fixedMemory); limit != 0 && need > limit {
		return fmt.Errorf("%s: needs %d bytes of memory at start (%d of linear memory, %d of tables and kernel state), over its limit of %d",
			m.Name, need, m.minMemory, need-m.minMemory, limit)
	}
	return nil
}

// spawn starts a process in group g, as parent's child if parent is set,
// with init queued as its first message before it can run. It takes init
// over: if the spawn fails, what init's capabilities counted is dropped
// (Message.DropRefs), as the spawner still holds their handles.
func (k *Kernel) spawn(ctx context.Context, m *Module, spec Spec, parent *Process, g *Group, init *Message, link bool) (*Process, error) {
	p, cfg, err := k.newProcess(ctx, m, &spec, parent, g)
	if err != nil {
		dropRefs(init)
		return nil, err
	}
	return p.begin(&cfg, spec.Grants, init, link)
}

// newProcess makes a process that can be registered, joined to g and
// charged for: nothing of it exists yet if it fails. It also returns the
// WASI view begin gives it (an image's, if it starts from one).
func (k *Kernel) newProcess(ctx context.Context, m *Module, spec *Spec, parent *Process, g *Group) (*Process, wasip1.Config, error) {
	p := &Process{k: k, mod: m, parent: parent, group: g, reactor: m.kind == kindReactor,
		extra: extrasOf(spec, m), noImage: spec.NoImage}
	p.alloc.Limit = spec.MemoryLimit
	p.alloc.Account = memAccount{p}
	p.handles.owned = true
	// Until its code runs, a process's memory holds at most its data
	// segments: an exit before then drops only those pages.
	p.alloc.NotRun(m.preloaded)
	p.fuel = fuelState{}
	p.mbox.limit = limitOf(spec.Mailbox)
	if p.reactor {
		// Until it is ready, the spawner owns the reactor: neither a
		// message (a service hands them on as soon as it is attached) nor
		// a kill (its tree's, from the moment it joins) may queue a
		// half-made process on a worker. start releases it.
		p.mbox.sched = schedRunning
	}
	if err := g.join(p); err != nil {
		return nil, wasip1.Config{}, err
	}
	// Everything the process needs at start is charged now, its initial
	// linear memory too, so that a spawn the tree cannot hold fails here
	// with ErrLimit rather than in the guest.
	start := ProcessOverhead + m.fixedMemory + int64(m.minMemory)
	if full := p.chargeMem(start); full != nil {
		g.leave(p)
		return nil, wasip1.Config{}, fmt.Errorf("%w: %s", ErrLimit, full.describeFull(start))
	}
	p.alloc.Prepaid = m.minMemory
	// Whether it starts from an image is settled before register: tools
	// read it (Info).
	var cfg wasip1.Config
	if m.usesWASI {
		cfg = k.wasiConfig(m, spec)
	}
	if m.imageCandidate() && !spec.NoImage && !k.noImages {
		p.useImage(&cfg)
	}
	p.started = time.Since(k.epoch) // before register: tools read it (Info)
	if err := k.register(p); err != nil {
		p.closeMem()
		g.leave(p)
		return nil, wasip1.Config{}, err
	}
	p.setContext(ctx)
	return p, cfg, nil
}

// begin readies a registered process and lets it run: from here on, it
// ends through abort or finish.
func (p *Process) begin(cfg *wasip1.Config, grants map[string]Cap, init *Message, link bool) (*Process, error) {
	m, parent := p.mod, p.parent
	if err := p.installGrants(grants); err != nil {
		dropRefs(init)
		p.abort(isleapi.Exit{Kind: isleapi.ExitKilled, Killed: "its grants did not fit its handle table"})
		return nil, err
	}
	p.wasi = p.newWASI(cfg)
	if init != nil {
		// Queued before the process can run, so that it is the first
		// message whatever the child does first.
		init.Tag = TagInit
		p.mu.Lock()
		p.admit(messageSize(init), true)
		p.mbox.append(init)
		p.mu.Unlock()
	}
	if s := p.service(); s != nil {
		s.attach(p)
	}
	if p.reactor {
		// A start function that never returns meets the tree's timeout,
		// its context, or the kill of whoever is spawning it at its fuel
		// yields.
		//
		// The start function runs inside the spawner's call, on its thread:
		// if it blocks, the spawner's worker hands off its queue, and the
		// spawner's kill ends it.
		var err error
		if p.initialized = !m.hasInitialize || p.startImage() != nil; p.startsDormant() {
			p.mu.Lock()        // Info reads it: the process is registered
			p.dormant = unborn // instantiated at its first turn
			p.mu.Unlock()
		} else {
			if parent != nil {
				p.turnWorker = parent.turnWorker
			}
			p.instantiating = true
			err = p.instantiate()
			p.instantiating = false
			p.endTurn()
		}
		if err != nil {
			p.abort(p.classify(err))
			if errors.Is(err, linmem.ErrRefused) {
				return nil, fmt.Errorf("%s: %w: its tree or the node cannot hold its initial memory", m.Name, ErrLimit)
			}
			return nil, fmt.Errorf("%s: %w: %w", m.Name, ErrStartFailed, err)
		}
	}
	var linkErr error
	if link {
		if linkErr = parent.Link(p); linkErr != nil {
			// It ends as it starts, as any process killed this early does.
			p.Kill("its spawner could not link to it")
		}
	}
	p.start()
	if linkErr != nil {
		return nil, linkErr
	}
	return p, nil
}

// start lets a newly made process run.
func (p *Process) start() {
	if !p.reactor {
		go p.runCommand()
		return
	}
	// The first turn runs _initialize, if there is one (begin set
	// initialized); otherwise the reactor is idle until its first message
	// (or its kill).
	p.mu.Lock()
	queue := !p.initialized || p.mbox.len() > 0 || p.killReason.Load() != nil
	if queue {
		p.mbox.sched = schedQueued
	} else {
		p.mbox.sched = schedIdle
	}
	p.mu.Unlock()
	if queue {
		p.k.sched.ready(p, nil)
	}
}

// installGrants puts the named grants in the table. The self handle is
// made at the first self call (Self): most processes never ask, and a
// table with nothing in it holds no memory.
func (p *Process) installGrants(grants map[string]Cap) error {
	if len(grants) > 0 {
		p.grants = make(map[string]Handle, len(grants))
	}
	for name, c := range grants {
		h, err := p.handles.Insert(c)
		if err != nil {
			return err
		}
		c.AddRef() // the spec keeps its own
		p.grants[name] = h
	}
	return nil
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
	code := p.code().compiled
	if d := p.dormant; d != nil && d != unborn {
		code = p.code().wake.compiled // its memory holds the data already
	}
	inst, err := p.k.rt.InstantiateModule(p.callCtx(), code, p.moduleConfig())
	if err != nil {
		return err
	}
	if m := p.code(); !m.proven.Load() {
		m.proven.Store(true)
	}
	p.inst = inst
	if p.alloc.Image != nil {
		// Its memory is placed: a mapping of the image's memfd, which
		// holds the file itself, or a copy. Later instances take up the
		// same memory (Allocator.Retain).
		p.alloc.Image = nil
		p.startImage().releaseMem()
	}
	if g, ok := inst.ExportedGlobal(fuelGlobalExport).(api.MutableGlobal); ok {
		p.fuel.counter = g
	}
	return nil
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
		if d := p.goAbort(); d != nil && code == 2 {
			if msg := d.message(); msg != "" {
				return isleapi.Exit{Kind: isleapi.ExitAbandoned,
					Abandon: &isleapi.Abandonment{Cause: isleapi.CauseRuntimeAbort, Detail: "go: " + msg}}
			}
		}
		return isleapi.Exit{Kind: isleapi.ExitNormal, Code: code}
	}
	ab := fault.FromError(err)
	// A Go reactor (c-shared) that panics aborts with a trap rather than
	// exiting 2; its stderr still carries the runtime's reason.
	if d := p.goAbort(); d != nil && ab.Cause == isleapi.CauseUnreachable {
		if msg := d.message(); msg != "" {
			ab.Cause, ab.Detail = isleapi.CauseRuntimeAbort, "go: "+msg
		}
	}
	return isleapi.Exit{Kind: isleapi.ExitAbandoned, Abandon: ab}
}

// Kill ends the process from outside. A running process stops at its next
// visit to the host (at most one fuel slice away, and at once if it is
// blocked); an idle reactor is scheduled so a worker can tear it down.
// Killing an ended process does nothing.
//
// Safe from any goroutine.
func (p *Process) Kill(reason string) {
	if p.markKilled(reason) {
		p.landKill()
	}
}

// markKilled records the kill's reason, if it is the first: from then on
// the process ends killed at its next visit to the host. Only atomics:
// Group.Kill marks all its members under Group.mu, so that none of them
// can see another's kill before its own is recorded. Whoever marked it
// must then call landKill.
func (p *Process) markKilled(reason string) bool {
	return p.killReason.CompareAndSwap(nil, &reason)
}

// landKill wakes a process markKilled marked: whatever it waits on, or, an
// idle reactor, a worker to tear it down.
func (p *Process) landKill() {
	p.killCh.close()
	if p.reactor {
		p.mu.Lock()
		parked := p.mbox.sched == schedParked
		schedule := !p.dead && (p.mbox.sched == schedIdle || parked)
		if schedule {
			p.mbox.sched = schedQueued
		}
		p.mu.Unlock()
		if parked {
			p.k.sched.forget(p)
		}
		if schedule {
			p.k.sched.ready(p, nil)
		}
	}
}

// CheckKilled ends the current host call, and with it the guest's run, if
// the process has been killed.
//
// Precondition: called by p's own goroutine or turn (the process's owner).
func (p *Process) CheckKilled() { p.checkKilled() }

// checkKilled abandons the current host call if the process was killed.
func (p *Process) checkKilled() {
	if r := p.killReason.Load(); r != nil {
		panic(&fault.Kill{Reason: *r})
	}
}

// Done is closed when the process has ended.
//
// Safe from any goroutine.
func (p *Process) Done() <-chan struct{} { return p.done.get() }

// Wait blocks until the process ends or ctx is done.
//
// Safe from any goroutine.
func (p *Process) Wait(ctx context.Context) (isleapi.Exit, error) {
	select {
	case <-p.done.get():
		return *p.exit, nil
	case <-ctx.Done():
		return isleapi.Exit{}, ctx.Err()
	}
}

// Ended implements Target: it reports whether the process has ended.
//
// Safe from any goroutine.
func (p *Process) Ended() bool {
	_, ended := p.Exit()
	return ended
}

// Exit returns how the process ended; ok is false while it runs.
//
// Safe from any goroutine.
func (p *Process) Exit() (isleapi.Exit, bool) {
	if p.done.closed() {
		return *p.exit, true
	}
	return isleapi.Exit{}, false
}

// Module returns the module the process runs.
//
// Safe from any goroutine.
func (p *Process) Module() *Module { return p.mod }

// Reactor reports whether the process is a reactor.
//
// Safe from any goroutine.
func (p *Process) Reactor() bool { return p.reactor }

// Stats reports fuel used, peak linear memory and wall time. Fuel is exact
// once the process has ended; while it runs it lags by up to one slice.
//
// Safe from any goroutine.
func (p *Process) Stats() Stats {
	end := time.Now()
	if e := p.ended.Load(); e != 0 {
		end = time.Unix(0, e)
	}
	p.mu.Lock()
	queued := p.mbox.len()
	p.mu.Unlock()
	return Stats{Fuel: p.spent.Load(), Memory: uint64(max(p.mem.Load(), 0)), PeakMemory: uint64(p.peakMem.Load()),
		PeakLinear: p.alloc.PeakBytes(), Wall: end.Sub(p.startTime()), Queued: queued}
}

// Group returns the budget of the process's tree.
//
// Safe from any goroutine.
func (p *Process) Group() *Group { return p.group }

// Parent returns the process that spawned p, or nil if the host did.
//
// Safe from any goroutine.
func (p *Process) Parent() *Process {
	return p.parent
}

// startTime is when the process was made.
func (p *Process) startTime() time.Time { return p.k.epoch.Add(p.started) }

func formatCount(n int64) string { return strconv.FormatInt(n, 10) }
