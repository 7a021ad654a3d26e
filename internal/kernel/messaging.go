package kernel

import (
	"context"
	"fmt"
	"time"

	"github.com/isle-run/isle/internal/capkind"
)

// Send queues m in q's mailbox, with p as the sender: p blocks (and can be
// killed while it does) if the mailbox is full and nonblock is false. If
// m is not sent, what its capabilities counted is dropped
// (Message.DropRefs), a kill in the wait included.
//
// Precondition: called by p's own goroutine or turn.
func (p *Process) Send(q Target, m *Message, nonblock bool) error {
	p.stamp(m)
	p.sent++
	if len(m.Caps) == 0 {
		return q.enqueue(m, modeOf(nonblock), p)
	}
	sent := false
	defer func() {
		if !sent {
			m.DropRefs() // after a sent m, another goroutine may own it
		}
	}()
	err := q.enqueue(m, modeOf(nonblock), p)
	sent = err == nil
	return err
}

func modeOf(nonblock bool) sendMode {
	if nonblock {
		return sendNonBlock
	}
	return sendBlock
}

// request queues m in q's mailbox as a request, with w as the sender, and
// returns the slot its reply will arrive in.
func request(q Target, m *Message, w waiter) (*replySlot, error) {
	slot := newReplySlot()
	slot.traceHi, slot.trace = m.TraceHi, m.Trace
	m.reply = slot
	if err := q.enqueue(m, sendBlock, w); err != nil {
		m.reply = nil
		return nil, err
	}
	return slot, nil
}

// Call sends m to q as a request and waits up to timeout for the reply.
// It fails with ErrGone as soon as nobody can answer any more: q ended
// with the request unread, or whoever held the reply handle dropped it.
// sent reports whether the request left, and with it any capabilities it
// carried; if it did not, what m's capabilities counted is dropped
// (Message.DropRefs), a kill in the wait for room included.
//
// Precondition: called by p's own goroutine or turn.
func (p *Process) Call(q Target, m *Message, timeout time.Duration) (reply *Message, sent bool, err error) {
	p.stamp(m)
	p.sent++
	if len(m.Caps) > 0 {
		defer func() {
			if !sent {
				m.DropRefs()
			}
		}()
	}
	span := p.startCall(m)
	slot, err := request(q, m, p)
	if err != nil {
		endCall(span, err)
		return nil, false, err
	}
	sent = true
	p.pending = slot
	err = p.wait(slot.done, timeout)
	p.pending = nil
	reply, err = settle(slot, err)
	endCall(span, err)
	return reply, sent, err
}

// settle turns a finished wait on a reply slot into the reply or an error.
func settle(slot *replySlot, err error) (*Message, error) {
	if err != nil {
		slot.abandon()
	}
	if r := slot.result(); r != nil {
		return r, nil // a reply that raced with the timeout still counts
	}
	if err != nil {
		return nil, err
	}
	if err := slot.failure(); err != nil {
		return nil, err
	}
	return nil, ErrGone
}

// Reply answers the call whose reply handle h names, consuming h.
//
// Precondition: called by p's own goroutine or turn (the process's owner).
func (p *Process) Reply(h Handle, m *Message) error {
	c, ok := p.handles.Remove(h)
	if !ok || c.Kind != capkind.Reply {
		return fmt.Errorf("handle %d is not a reply handle", h)
	}
	slot := c.Object.(*replySlot)
	p.stamp(m)
	p.sent++
	m.TraceHi, m.Trace = slot.traceHi, slot.trace // a reply is part of its call
	if !slot.answer(m) {
		return ErrGone
	}
	return nil
}

// Receive takes the next message matching match/mask and makes it the
// current message, returning it and its aux word.
//
// Precondition: called by p's own goroutine or turn (the process's owner).
func (p *Process) Receive(match, mask uint32, timeout time.Duration) (*Message, uint32, error) {
	if !p.reactor {
		p.endSpan("") // a command is done with its message when it asks for the next
	}
	m, err := p.receive(match, mask, timeout)
	if err != nil {
		return nil, 0, err
	}
	aux := p.deliver(m)
	if !p.reactor && p.k.tracer != nil {
		p.beginSpan(SpanReceive, m)
	}
	return m, aux, nil
}

// ProcessFrom returns the process a host function was called by.
func ProcessFrom(ctx context.Context) *Process { return processFrom(ctx) }

// Handles is the process's handle table. Only the process's own context
// may use it.
//
// Precondition: called by p's own goroutine or turn (the process's owner).
func (p *Process) Handles() *HandleTable { return &p.handles }

// HasMemory reports whether p's module defines a linear memory. Without
// one, wazero's api.Module.Memory is a nil pointer in a non-nil interface.
func (p *Process) HasMemory() bool { return p.mod.hasMemory }

// Self returns the process's handle to itself, making a new one if the
// last was sent away. The table keeps its last slot for it, so handles
// peers send cannot make it fail; it returns 0 only once the process has
// used up every handle number.
//
// Precondition: called by p's own goroutine or turn (the process's owner).
func (p *Process) Self() Handle {
	if c, ok := p.handles.Get(p.self); ok && c.Kind == capkind.Process && c.Object == p {
		return p.self
	}
	h, err := p.handles.insertSelf(Cap{Kind: capkind.Process, Rights: allProcessRights, Object: p})
	if err != nil {
		return 0 // every handle number used up: two billion of them
	}
	p.self = h
	return h
}

// Grant returns the handle the process was started with under name.
//
// Precondition: called by p's own goroutine or turn (the process's owner).
func (p *Process) Grant(name string) (Handle, bool) {
	h, ok := p.grants[name]
	if !ok {
		return 0, false
	}
	if _, live := p.handles.Get(h); !live {
		return 0, false // closed or sent away since
	}
	return h, true
}

// SetInbox sets where a reactor's messages are copied before each turn.
//
// Precondition: called by p's own goroutine or turn (the process's owner).
func (p *Process) SetInbox(ptr, n uint32) { p.inbox, p.inboxCap = ptr, n }

// Current returns the message being handled, or nil.
//
// Precondition: called by p's own goroutine or turn (the process's owner).
func (p *Process) Current() *Message { return p.current }

// CurrentHandles returns the handles the current message brought.
//
// Precondition: called by p's own goroutine or turn (the process's owner).
func (p *Process) CurrentHandles() []Handle { return p.curHandles }

// SetCurrent makes a call's reply the current message, installing what it
// carries.
//
// Precondition: called by p's own goroutine or turn (the process's owner).
func (p *Process) SetCurrent(m *Message) { p.deliver(m) }

// Spawner is the right to start processes from a set of modules.
type Spawner struct {
	Modules map[string]*Module
}

// SpawnChild starts a process from the module called name in the spawner
// capability spc, as p's child in p's tree, with init as its first
// message. The child holds the same spawner capability (so a revoked
// spawner stops a whole tree). With link, p and the child are linked
// before the child runs; with stdio, the child writes to p's stdout and
// stderr. It takes init over: if the spawn fails, what init's
// capabilities counted is dropped (Message.DropRefs), and p's handles to
// them stay p's.
//
// Precondition: called by p's own goroutine or turn (the process's owner).
func (p *Process) SpawnChild(spc Cap, name string, init *Message, link, stdio bool) (*Process, error) {
	sp := spc.Object.(*Spawner)
	m, ok := sp.Modules[name]
	if !ok {
		dropRefs(init)
		return nil, fmt.Errorf("%w: no module %q in this spawner", ErrNoMatch, name)
	}
	spec := Spec{
		Args:        []string{name},
		MemoryLimit: p.alloc.Limit,
		Grants:      map[string]Cap{"spawner": spc},
		NoImage:     p.noImage, // an opt-out holds for the tree
	}
	if spec.MemoryLimit == 0 {
		spec.MemoryLimit = DefaultChildMemory
	}
	if err := m.runnable(spec.MemoryLimit); err != nil {
		dropRefs(init)
		return nil, err
	}
	if x := p.extra; stdio && x != nil {
		spec.Stdout, spec.Stderr = x.stdout, x.stderr
	}
	if init != nil {
		init.Tag = TagInit
		p.stamp(init)
	}
	return p.k.spawn(p.callCtx(), m, spec, p, p.group, init, link)
}

// DefaultChildMemory caps the linear memory of a spawned process whose
// tree has no memory limit: 64 MiB keeps a hundred thousand reservations
// inside the address space.
const DefaultChildMemory = 64 << 20

// HostSend sends a message from the Go host to q.
//
// Safe from any goroutine.
func (k *Kernel) HostSend(ctx context.Context, q Target, m *Message, nonblock bool) error {
	k.stampHost(m)
	k.stats.hostSent.Add(1)
	return q.enqueue(m, modeOf(nonblock), hostWaiter{ctx})
}

// HostCall sends a request from the Go host to q and waits for the reply
// until ctx is done.
//
// Safe from any goroutine.
func (k *Kernel) HostCall(ctx context.Context, q Target, m *Message) (*Message, error) {
	k.stampHost(m)
	k.stats.hostSent.Add(1)
	slot, err := request(q, m, hostWaiter{ctx})
	if err != nil {
		return nil, err
	}
	return settle(slot, hostWaiter{ctx}.wait(slot.done, -1))
}
