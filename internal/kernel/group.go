package kernel

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// A Group is the budget a process tree shares, as a cgroup is: a process
// the host spawns starts a group, and every process it spawns, and they in
// turn, join it. The group's memory limit, fuel budget, process quota and
// timeout bound the whole tree together, so a child never gets a fresh
// budget of its own. Every tree's group has the node's group as its parent,
// whose memory limit is the node's ceiling on guest memory.
//
// Memory is charged in bytes: a charge walks up to the node, and fails,
// leaving nothing charged, if any level would pass its limit.
type Group struct {
	k      *Kernel
	parent *Group // nil for the node's own group

	memLimit int64        // bytes; 0 means none
	mem      atomic.Int64 // bytes charged now
	peakMem  atomic.Int64

	fuelLimit int64        // the budget; 0 means unlimited
	fuel      atomic.Int64 // what is left of it, when fuelLimit > 0
	spent     atomic.Int64 // fuel spent by every member, ever

	// fileLimit bounds the host descriptors the group's processes hold
	// open (files.go); 0 means none at this level.
	fileLimit int64
	files     atomic.Int64 // host descriptors charged now
	peakFiles atomic.Int64 // the most files has been

	procLimit int64
	// deadline is when its timeout ends the tree, or zero. Set once.
	deadline  time.Time
	procs     atomic.Int64 // live members
	peakProcs atomic.Int64

	mu      sync.Mutex // guards everything below
	members *Process   // the live members, linked through Process.groupNext/groupPrev
	// killed is the reason the whole tree is being ended, once it is.
	killed string
	// watch, if the tree has a timeout or a context that can end, is
	// what ends it then; most trees have neither.
	watch *groupWatch
}

// groupWatch ends a tree when its timeout passes or its context ends.
type groupWatch struct {
	timer   *time.Timer
	stopCtx func() bool
}

// GroupLimits bound a process tree as a whole. Zero fields are unlimited
// (the process quota and the descriptor bound default to the kernel's).
type GroupLimits struct {
	Memory    int64
	Fuel      int64
	Processes int64
	Timeout   time.Duration
	// Files bounds the host descriptors the tree holds open; zero means
	// the kernel's default for a tree.
	Files int64
}

// newGroup makes the group of a new tree, watched by ctx and its timeout
// from now.
func (k *Kernel) newGroup(ctx context.Context, lim GroupLimits) *Group {
	g := &Group{k: k, parent: k.node, memLimit: lim.Memory, fuelLimit: lim.Fuel,
		procLimit: lim.Processes, fileLimit: lim.Files}
	if g.procLimit <= 0 {
		g.procLimit = k.quota
	}
	if g.fileLimit <= 0 {
		g.fileLimit = k.treeFiles
	}
	g.fuel.Store(lim.Fuel)
	if ctx.Done() != nil || lim.Timeout > 0 {
		g.watch = &groupWatch{}
	}
	if ctx.Done() != nil {
		g.watch.stopCtx = context.AfterFunc(ctx, func() { g.Kill(contextReason(ctx)) })
	}
	if lim.Timeout > 0 {
		g.deadline = time.Now().Add(lim.Timeout)
		g.watch.timer = time.AfterFunc(lim.Timeout, func() { g.Kill("timeout") })
	}
	return g
}

// join adds p to the group, enforcing its process quota.
func (g *Group) join(p *Process) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.killed != "" {
		return fmt.Errorf("%w: its process tree is being ended (%s)", ErrGone, g.killed)
	}
	if g.procs.Load() >= g.procLimit {
		return fmt.Errorf("%w: the process tree runs its maximum of %d processes", ErrLimit, g.procLimit)
	}
	if n := g.procs.Add(1); n > g.peakProcs.Load() {
		g.peakProcs.Store(n) // under mu: no other join races with this one
	}
	p.groupNext = g.members
	if g.members != nil {
		g.members.groupPrev = p
	}
	g.members = p
	return nil
}

// leave removes p, and ends the group's watches with its last member.
func (g *Group) leave(p *Process) {
	g.mu.Lock()
	if p.groupPrev != nil {
		p.groupPrev.groupNext = p.groupNext
	} else {
		g.members = p.groupNext
	}
	if p.groupNext != nil {
		p.groupNext.groupPrev = p.groupPrev
	}
	p.groupPrev, p.groupNext = nil, nil
	last := g.procs.Add(-1) == 0
	g.mu.Unlock()
	if last {
		g.disarm()
	}
}

// disarm stops the timeout and the context watch.
func (g *Group) disarm() {
	w := g.watch
	if w == nil {
		return
	}
	if w.stopCtx != nil {
		w.stopCtx()
	}
	if w.timer != nil {
		w.timer.Stop()
	}
}

// Kill ends every process of the tree, and any that a member spawns from
// now on fails to start.
//
// Safe from any goroutine.
func (g *Group) Kill(reason string) {
	g.mu.Lock()
	if g.killed != "" {
		g.mu.Unlock()
		return
	}
	g.killed = reason
	// Every member is marked killed before any is woken: otherwise one
	// woken early (a child whose start function blocked its spawner)
	// could let another run to a normal end before its own kill, so that
	// a tree ended by its timeout had a member end as if it had none.
	members := make([]*Process, 0, g.procs.Load())
	for p := g.members; p != nil; p = p.groupNext {
		if p.markKilled(reason) {
			members = append(members, p)
		}
	}
	g.mu.Unlock()
	for _, p := range members {
		p.landKill()
	}
}

// killReason is why the tree was ended, or "" while it is not.
func (g *Group) killReason() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.killed
}

// Processes is the number of live processes in the tree, now and at most.
//
// Safe from any goroutine.
func (g *Group) Processes() (now, peak int64) { return g.procs.Load(), g.peakProcs.Load() }

// Ended reports whether every process of the tree has ended: a tree
// that had processes and has none can have none again, since only its
// members spawn into it.
//
// Safe from any goroutine.
func (g *Group) Ended() bool { return g.procs.Load() == 0 && g.peakProcs.Load() > 0 }

// Memory is what the tree holds now and the most it has held, in bytes.
//
// Safe from any goroutine.
func (g *Group) Memory() (now, peak int64) { return g.mem.Load(), g.peakMem.Load() }

// FuelSpent is the fuel every member of the tree has spent, ever.
//
// Safe from any goroutine.
func (g *Group) FuelSpent() int64 { return g.spent.Load() }

// charge adds n bytes to g and every group above it. If that would pass a
// limit it charges nothing and returns the group whose limit it is.
func (g *Group) charge(n int64) (full *Group) {
	for a := g; a != nil; a = a.parent {
		v := a.mem.Add(n)
		if a.memLimit > 0 && v > a.memLimit {
			for b := g; ; b = b.parent {
				b.mem.Add(-n)
				if b == a {
					break
				}
			}
			return a
		}
		a.notePeak(v)
	}
	return nil
}

// forceCharge charges n bytes whatever the limits say: for what the kernel
// must hold (an exit signal) and has bounded some other way.
func (g *Group) forceCharge(n int64) {
	for a := g; a != nil; a = a.parent {
		a.notePeak(a.mem.Add(n))
	}
}

// uncharge gives back n bytes.
func (g *Group) uncharge(n int64) {
	for a := g; a != nil; a = a.parent {
		a.mem.Add(-n)
	}
}

func (g *Group) notePeak(v int64) {
	for p := g.peakMem.Load(); v > p && !g.peakMem.CompareAndSwap(p, v); p = g.peakMem.Load() {
	}
}

// imageLimits is what the tree could spend on an image's init now: its
// memory limit, and what is left of its fuel budget and of its time (at
// least one unit and a millisecond, so that a spent budget still bounds
// it).
//
// Safe from any goroutine.
func (g *Group) imageLimits() imageLimits {
	lim := imageLimits{memory: g.memLimit}
	if g.fuelLimit > 0 {
		lim.fuel = max(g.fuel.Load(), 1)
	}
	if !g.deadline.IsZero() {
		lim.timeout = max(time.Until(g.deadline), time.Millisecond)
	}
	return lim
}

// takeFuel reserves up to want units from the tree's budget; ok is false
// when the budget is spent.
func (g *Group) takeFuel(want int64) (got int64, ok bool) {
	if g.fuelLimit <= 0 {
		return want, true
	}
	for {
		left := g.fuel.Load()
		if left <= 0 {
			return 0, false
		}
		got = min(want, left)
		if g.fuel.CompareAndSwap(left, left-got) {
			return got, true
		}
	}
}

// settleFuel records that a member used used units of a reservation of
// granted: the rest goes back to the budget, and an overdraft (a bulk
// operation charged past the counter) comes out of it.
func (g *Group) settleFuel(granted, used int64) {
	g.spent.Add(used)
	if g.fuelLimit > 0 && granted != used {
		g.fuel.Add(granted - used)
	}
}
