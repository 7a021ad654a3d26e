package isle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/kernel"
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
	return mapErr(p.n.k.HostSend(ctx, p.p, &kernel.Message{Tag: m.Tag, Data: bytes.Clone(m.Data)}, false))
}

// Call sends a request and waits for the reply until ctx is done. It fails
// with ErrGone as soon as the process ends without answering.
func (p *Process) Call(ctx context.Context, m Message) (Message, error) {
	if m.Tag >= kernel.TagSystem {
		return Message{}, fmt.Errorf("tag %#x is reserved for the system", m.Tag)
	}
	r, err := p.n.k.HostCall(ctx, p.p, &kernel.Message{Tag: m.Tag, Data: bytes.Clone(m.Data)})
	if err != nil {
		return Message{}, mapErr(err)
	}
	for _, c := range r.Caps {
		c.Release() // the Go host holds no handle table
	}
	return Message{Tag: r.Tag, Data: r.Data}, nil
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
	// Fuel is the instruction fuel spent. The same program on the same
	// input spends the same fuel when it is not granted the real clock
	// (Grants.Clock): Go's runtime, for one, reads the clock to pace its
	// garbage collector and schedule goroutines.
	Fuel int64
	// PeakMemory is the largest linear memory the process reached, in bytes.
	PeakMemory uint64
	// Wall is the time from spawn to exit, or to now while it runs.
	Wall time.Duration
	// Queued is how many messages wait in the mailbox now.
	Queued int
}

// Stats reports what the process has consumed. It is exact once the
// process has ended.
func (p *Process) Stats() Stats {
	s := p.p.Stats()
	return Stats{Fuel: s.Fuel, PeakMemory: s.PeakMemory, Wall: s.Wall, Queued: s.Queued}
}
