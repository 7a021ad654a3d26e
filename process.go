package isle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/kernel"
	"github.com/isle-run/isle/internal/tracing"
)

// Process is a running, isolated instance of a Module.
type Process struct {
	n *Node
	p *kernel.Process
}

// Spawn starts a process running m's _start with exactly the given grants,
// bounded by limits. Cancelling ctx kills the process.
func (n *Node) Spawn(ctx context.Context, m *Module, g Grants, l Limits) (*Process, error) {
	spec, release, err := g.spec(n, l)
	if err != nil {
		return nil, err
	}
	spec.OnExit = release
	p, err := n.k.Spawn(ctx, m.m, spec)
	if err != nil {
		if release != nil {
			release()
		}
		return nil, err
	}
	return &Process{n: n, p: p}, nil
}

// ID is the process's number on this node, for logs and tools. It is not
// a capability: nothing can be done to a process knowing only its ID.
func (p *Process) ID() uint64 { return p.p.ID }

// Wait blocks until the process ends, then returns how it ended. It returns
// ctx's error if ctx is done first; the process keeps running.
func (p *Process) Wait(ctx context.Context) (api.Exit, error) { return p.p.Wait(ctx) }

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.p.Done() }

// Kill ends the process with reason "killed". It takes effect within one
// fuel slice, even in a loop that makes no calls.
func (p *Process) Kill() { p.p.Kill("killed") }

// Message is a message the Go host sends to a process or receives as a
// reply.
type Message struct {
	// Tag is the message's kind, chosen by the sender; values from
	// 0xFFFF0000 up are reserved for the system.
	Tag uint32
	// Data is the payload, copied on send.
	Data []byte
}

// Reactor reports whether the process is a reactor.
func (p *Process) Reactor() bool { return p.p.Reactor() }

// Send delivers a message to the process's mailbox, waiting for room if it
// is full, until ctx is done. It fails with ErrGone if the process has
// ended.
func (p *Process) Send(ctx context.Context, m Message) error {
	if m.Tag >= kernel.TagSystem {
		return fmt.Errorf("tag %#x is reserved for the system", m.Tag)
	}
	km := kernel.NewMessage(m.Tag, m.Data)
	end := tracing.Host(ctx, p.n.tracer, "send", false, km)
	err := p.n.k.HostSend(ctx, p.p, km, false)
	end(err)
	return mapErr(err)
}

// Call sends a request and waits for the reply until ctx is done. It fails
// with ErrGone as soon as the process ends without answering.
func (p *Process) Call(ctx context.Context, m Message) (Message, error) {
	if m.Tag >= kernel.TagSystem {
		return Message{}, fmt.Errorf("tag %#x is reserved for the system", m.Tag)
	}
	return hostCall(ctx, p.n, p.p, m)
}

// hostCall calls q from the Go host.
func hostCall(ctx context.Context, n *Node, q kernel.Target, m Message) (Message, error) {
	km := kernel.NewMessage(m.Tag, m.Data)
	end := tracing.Host(ctx, n.tracer, "call", true, km)
	r, err := n.k.HostCall(ctx, q, km)
	end(err)
	if err != nil {
		return Message{}, mapErr(err)
	}
	// The caller keeps the payload; the message goes back to the pool (a
	// call allocated two otherwise: garbage the next GC sweeps), and its
	// capabilities are dropped, since the Go host holds no handle table.
	reply := Message{Tag: r.Tag, Data: r.TakeData()}
	r.Discard()
	return reply, nil
}

// ErrGone is returned by Send and Call when the process has ended.
var ErrGone = errors.New("process gone")

func mapErr(err error) error {
	if errors.Is(err, kernel.ErrGone) {
		return ErrGone
	}
	return err
}

// Stats is what a process has consumed.
type Stats struct {
	// Fuel is the instruction fuel the process spent. A lone process that
	// is not granted the real clock (Grants.Clock) spends the same fuel on
	// every run with the same input: Go's runtime, for one, reads the clock
	// to pace its garbage collector and schedule goroutines. In a tree,
	// which process finds a shared budget spent depends on scheduling.
	Fuel int64
	// Memory is what the node holds for the process now, in bytes: its
	// linear memory at its current size, its tables, its call stack, the
	// messages queued for it, host buffers on their way to it, and a fixed
	// share for its kernel state. PeakMemory is the most it held.
	Memory, PeakMemory uint64
	// PeakLinear is the largest its linear memory grew.
	PeakLinear uint64
	// Wall is the time from spawn to exit, or to now while it runs.
	Wall time.Duration
	// Queued is how many messages wait in the mailbox now.
	Queued int
	// Tree is what the process's whole tree has consumed: see Limits.
	Tree TreeStats
}

// TreeStats is what a process tree (see Limits) has consumed together.
type TreeStats struct {
	// Processes is how many of its processes are alive now, and
	// PeakProcesses the most that were at once.
	Processes, PeakProcesses int
	// Memory and PeakMemory are what the node holds for all of them, now
	// and at most.
	Memory, PeakMemory uint64
	// Fuel is what all of them, alive or ended, have spent.
	Fuel int64
	// Files and PeakFiles are the host descriptors they hold open (see
	// Limits.Files), now and at most; FileLimit is the tree's bound.
	Files, PeakFiles, FileLimit int
}

// Stats reports what the process has consumed. It is exact once the
// process has ended; while it runs, fuel lags by up to one slice.
func (p *Process) Stats() Stats {
	s := p.p.Stats()
	g := p.p.Group()
	mem, peak := g.Memory()
	procs, peakProcs := g.Processes()
	files, peakFiles := g.Files()
	return Stats{Fuel: s.Fuel, Memory: s.Memory, PeakMemory: s.PeakMemory, PeakLinear: s.PeakLinear,
		Wall: s.Wall, Queued: s.Queued,
		Tree: TreeStats{Processes: int(procs), PeakProcesses: int(peakProcs), Memory: uint64(max(mem, 0)), PeakMemory: uint64(peak), Fuel: g.FuelSpent(),
			Files: int(files), PeakFiles: int(peakFiles), FileLimit: int(g.FileLimit())}}
}
