package kernel

import (
	"time"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capkind"
)

// State is what a live process is doing, as tools show it.
type State uint8

// Process states.
const (
	// StateRunning: a command between two waits, or a reactor in a turn.
	StateRunning State = iota
	// StateWaiting: blocked in receive (a command, or a reactor in a turn).
	StateWaiting
	// StateIdle: a reactor with no turn to run and nothing queued.
	StateIdle
	// StateQueued: a reactor waiting in a run queue for a worker.
	StateQueued
	// StateExiting: killed, or dead and being torn down.
	StateExiting
)

// String names the state as `isle ps` prints it.
func (s State) String() string {
	switch s {
	case StateRunning:
		return "running"
	case StateWaiting:
		return "waiting"
	case StateIdle:
		return "idle"
	case StateQueued:
		return "queued"
	}
	return "exiting"
}

// Info is a consistent-enough view of one process for tools: each field is
// read atomically or under the process's own lock, never the kernel's, so
// reading it stops nothing else.
type Info struct {
	ID, Parent uint64
	Module     string
	Service    *Service // the service it is the instance of, if supervised
	Reactor    bool
	Image      bool // it started from an image (see image.go)
	Dormant    bool // a reactor with no instance now (see dormant.go)
	State      State
	Fuel       int64
	Memory     uint64
	Queued     int
	Started    time.Time
}

// Info reports what the process is doing and has consumed.
//
// Safe from any goroutine.
func (p *Process) Info() Info {
	in := Info{ID: p.ID, Module: p.mod.Name, Service: p.service(), Reactor: p.reactor, Image: p.startImage() != nil,
		Memory: uint64(max(p.mem.Load(), 0)), Started: p.startTime()}
	if p.parent != nil {
		in.Parent = p.parent.ID
	}
	p.mu.Lock()
	if p.reactor && !p.dead && p.mbox.sched == schedIdle {
		// No owner: the counter is still, and reading it here spares
		// every run the read (a cold cache line when reactors are many).
		p.noteFuel()
	}
	in.Fuel = p.spent.Load() + p.unsettled.Load()
	in.Queued = p.mbox.len()
	in.State = p.stateLocked()
	in.Dormant = p.dormant != nil
	p.mu.Unlock()
	return in
}

// stateLocked says what p is doing. Precondition: p.mu is held.
func (p *Process) stateLocked() State {
	switch {
	case p.dead || p.killReason.Load() != nil:
		return StateExiting
	case p.mbox.waiting:
		return StateWaiting
	case !p.reactor:
		return StateRunning
	case p.mbox.sched == schedIdle:
		return StateIdle
	case p.mbox.sched == schedQueued, p.mbox.sched == schedParked:
		return StateQueued
	}
	return StateRunning
}

// EachInfo calls f with the Info of every live process, by ascending id.
// It copies the process table under the kernel's lock, which spawns and
// exits take, and reads each process afterwards without that lock; f gets
// a pointer it must not keep.
//
// Safe from any goroutine.
func (k *Kernel) EachInfo(f func(*Info)) {
	var in Info
	for _, p := range k.Processes() {
		in = p.Info()
		f(&in)
	}
}

// Lookup returns the live process numbered id.
//
// Safe from any goroutine.
func (k *Kernel) Lookup(id uint64) (*Process, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	p := k.procs.get(id)
	return p, p != nil
}

// HandleInfo is one held handle as tools show it: its number, kind and
// rights, never the object behind it.
type HandleInfo struct {
	Handle Handle
	Kind   capkind.Kind
	Rights isleapi.Rights
}

// Peer is the other end of a link or a monitor: a process, a service, or
// something on another node.
type Peer struct {
	ID      uint64 // the process's, or 0 for a service
	Service string // the service's name, for a service
	// Node is the other node, for a remote process or service (then
	// Export is its export there), or a node monitoring this process.
	Node   string
	Export uint64
}

// Detail is what `isle inspect` shows of a process beyond its Info.
type Detail struct {
	Handles []HandleInfo
	// Links are the process's links; Monitors are who monitors it.
	Links, Monitors []Peer
	// Tags are the tags of the queued messages, oldest first, at most
	// maxTags of them.
	Tags []uint32
}

// Detail reports the process's handles, links, monitors and queued tags.
// maxTags bounds how many tags it copies.
//
// Safe from any goroutine.
func (p *Process) Detail(maxTags int) Detail {
	var d Detail
	p.handles.each(func(h Handle, c *Cap) {
		d.Handles = append(d.Handles, HandleInfo{Handle: h, Kind: c.Kind, Rights: c.Rights})
	})
	p.mu.Lock()
	for t := range p.links {
		d.Links = append(d.Links, peerOf(t))
	}
	for w := p.monitors.head; w != nil; w = w.next {
		if w.watcher == nil {
			d.Monitors = append(d.Monitors, Peer{Node: w.node})
			continue
		}
		d.Monitors = append(d.Monitors, Peer{ID: w.watcher.ID})
	}
	for _, m := range p.mbox.q[p.mbox.head:] {
		if len(d.Tags) == maxTags {
			break
		}
		d.Tags = append(d.Tags, m.Tag)
	}
	p.mu.Unlock()
	return d
}

func peerOf(t Target) Peer {
	switch t := t.(type) {
	case *Process:
		return Peer{ID: t.ID}
	case *Service:
		return Peer{Service: t.Name}
	case *Remote:
		return Peer{Node: t.Node, Export: t.ID}
	}
	return Peer{}
}

// Name is the process's name for logs and tools: its service's name if it
// is supervised, its module's otherwise.
//
// Safe from any goroutine.
func (p *Process) Name() string {
	if s := p.service(); s != nil {
		return s.Name
	}
	return p.mod.Name
}
