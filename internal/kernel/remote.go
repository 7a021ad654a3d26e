package kernel

import (
	"context"
	"fmt"
	"sync"

	isleapi "github.com/isle-run/isle/api"
)

// Remote is a process or service on another node, seen from this one: a
// Target whose sends, calls, kills and link exits a RemotePort carries to
// the node that owns it. The owner checks every use against what it
// exported, and to whom; a Remote is only this node's proxy for that
// export, and forging one gives no right the owner did not grant.
//
// A Remote ends for good, firing its links and monitors, when the owner
// reports that its target ended, or when the owner's node is lost
// (isleapi.ExitNoConnection). It is never revived: a node that comes back
// hands out new exports.
//
// The Remote counts what holds it on this node: every copy of a capability
// on it (in a handle table, a queued message, an export to a third node;
// see Cap.AddRef), every link and every monitor. When the last goes, its
// port's Release lets the owner forget the export.
type Remote struct {
	// Node is the owning node's name; ID is its export.
	Node string
	ID   uint64

	port RemotePort
	rev  *Revocation // revoked when the owner reports the export revoked

	// signalling is held by End until the links are told, as
	// Process.signalling is by finish. Taken before mu.
	signalling sync.Mutex

	mu      sync.Mutex // guards everything below
	ended   bool
	exit    isleapi.Exit
	refs    int // copies of capabilities on r held here
	links   linkers
	watches watchList
	done    chan struct{}
}

var _ Target = (*Remote)(nil)

// RemotePort carries what local processes do to a Remote to its owner.
// Its methods must not block, but Send may wait through wait for room in
// its flow-control window, as a local send waits for room in a mailbox.
// The owner reports the end of every target it exports (Remote.End), so
// links and monitors need no message of their own.
type RemotePort interface {
	// Send carries m to r's owner, as a call answered through reply
	// when reply.Valid(). Once it returns nil the port owns m. block
	// false asks for ErrFull rather than a wait; wait blocks until ch is
	// ready, or fails when the sender is killed or gives up.
	Send(r *Remote, m *Message, reply Reply, block bool, wait Waiter) error
	// Link and Unlink report that r gained its first local link, or lost
	// its last one while the linked process lives: the owner then knows
	// to signal r's target if this node is lost.
	Link(r *Remote)
	Unlink(r *Remote)
	// LinkExit reports that a local process linked to r ended with exit;
	// it is also the end of that link.
	LinkExit(r *Remote, exit isleapi.Exit)
	// Spawn asks the owner of spawner s to start module name with init as
	// its first message, and returns the new process, holding one
	// reference (Cap.AddRef) for the caller; wait blocks until the answer
	// comes, or fails when the caller is killed. It takes init over,
	// whether or not it succeeds.
	Spawn(s *RemoteSpawner, name string, init *Message, wait Waiter) (*Remote, error)
	// Kill asks the owner to kill r's target.
	Kill(r *Remote, reason string)
	// Release reports that nothing on this node holds r any more: no
	// capability, link or monitor. It is called after every use r's
	// holders made was handed to the port. Another copy may arrive from
	// the owner meanwhile: the port checks Idle under whatever lock it
	// makes new holds under.
	Release(r *Remote)
}

// NewRemote returns the proxy for export id of node, whose uses port
// carries. The capability a process holds on it should carry its
// Revocation (see Revocation), so a revoked export refuses locally.
func NewRemote(node string, id uint64, port RemotePort) *Remote {
	return &Remote{Node: node, ID: id, port: port, rev: &Revocation{depth: 1}, done: make(chan struct{})}
}

// Revocation returns the revocation the owner's "revoked" report trips.
//
// Safe from any goroutine.
func (r *Remote) Revocation() *Revocation { return r.rev }

// Done is closed when the remote target has ended, or its node was lost.
//
// Safe from any goroutine.
func (r *Remote) Done() <-chan struct{} { return r.done }

// Ended implements Target.
//
// Safe from any goroutine.
func (r *Remote) Ended() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended
}

// Exit returns how the remote target ended, once it has.
//
// Safe from any goroutine.
func (r *Remote) Exit() (isleapi.Exit, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.exit, r.ended
}

// addRef counts one more copy of a capability on r.
func (r *Remote) addRef() {
	r.mu.Lock()
	r.refs++
	r.mu.Unlock()
}

// dropRef counts one copy fewer, and releases r if that was its last hold.
func (r *Remote) dropRef() {
	r.mu.Lock()
	r.refs--
	idle := r.idleLocked()
	r.mu.Unlock()
	if idle {
		r.port.Release(r)
	}
}

// releaseIfIdle releases r if nothing holds it any more.
func (r *Remote) releaseIfIdle() {
	if r.Idle() {
		r.port.Release(r)
	}
}

// Idle reports whether nothing on this node holds r: no capability, link
// or monitor. An ended Remote is never idle: its owner has forgotten it.
//
// Safe from any goroutine.
func (r *Remote) Idle() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.idleLocked()
}

func (r *Remote) idleLocked() bool {
	return r.refs <= 0 && r.links.len() == 0 && r.watches.head == nil && !r.ended
}

// Kill implements Target.
//
// Safe from any goroutine.
func (r *Remote) Kill(reason string) {
	if !r.Ended() {
		r.port.Kill(r, reason)
	}
}

// End records that the remote target ended with exit, or that its node is
// lost, and fires the links and monitors held on it. Later calls do
// nothing.
//
// Safe from any goroutine; it does not block.
func (r *Remote) End(exit isleapi.Exit) {
	r.signalling.Lock()
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		r.signalling.Unlock()
		return
	}
	r.ended, r.exit = true, exit
	links, watches := r.links.take(), r.watches.take()
	close(r.done)
	r.mu.Unlock()
	for p := range links {
		p.mu.Lock()
		delete(p.links, Target(r))
		p.mu.Unlock()
		_ = p.exitSignal(r, exit, false)
	}
	r.signalling.Unlock()
	downAll(watches, exit)
}

// enqueue implements Target.
func (r *Remote) enqueue(m *Message, mode sendMode, w waiter) error {
	if r.Ended() {
		return ErrGone
	}
	if r := m.hold; r != nil {
		m.hold = nil
		r.Release() // the bytes leave this node
	}
	// The port answers the slot; m itself no longer carries it.
	reply := Reply{m.reply}
	m.reply = nil
	if err := r.port.Send(r, m, reply, mode != sendNonBlock, w); err != nil {
		m.reply = reply.s
		return err
	}
	return nil
}

// addLink implements Target.
func (r *Remote) addLink(p *Process) (bool, error) {
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		r.awaitSignals()
		return true, nil
	}
	had := r.links.add(p)
	first := r.links.len() == 1 && !had
	r.mu.Unlock()
	if first {
		r.port.Link(r)
	}
	return false, nil
}

// awaitSignals returns once an ended r has told its links.
func (r *Remote) awaitSignals() {
	r.signalling.Lock()
	r.signalling.Unlock() //lint:ignore SA2001 a barrier: End holds it until its links are told
}

// removeLink implements Target: p unlinked.
func (r *Remote) removeLink(p *Process) {
	if r.dropLink(p) {
		r.port.Unlink(r)
	}
	r.releaseIfIdle()
}

// dropLink forgets p's link, reporting whether it was the last.
func (r *Remote) dropLink(p *Process) (last bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.links.remove(p) && r.links.len() == 0 && !r.ended
}

// linkedExit implements Target: the owner gets the exit signal, and its
// target reacts as it would to a local linked process.
func (r *Remote) linkedExit(p *Process, exit isleapi.Exit) {
	if !r.Ended() {
		r.port.LinkExit(r, exit) // before the link's end can release r
	}
	r.dropLink(p)
	r.releaseIfIdle()
}

// RemoteSpawner is a spawner on another node, which its owner published:
// a process holding it starts processes there (Process.SpawnRemote).
type RemoteSpawner struct {
	Node string
	ID   uint64
	port RemotePort
	rev  *Revocation
}

// NewRemoteSpawner returns the proxy for spawner export id of node.
func NewRemoteSpawner(node string, id uint64, port RemotePort) *RemoteSpawner {
	return &RemoteSpawner{Node: node, ID: id, port: port, rev: &Revocation{depth: 1}}
}

// Revocation returns what refuses the spawner here once its owner is
// lost or revokes it.
func (s *RemoteSpawner) Revocation() *Revocation { return s.rev }

// SpawnRemote starts module name on the node that owns the remote spawner
// in spc, with init as its first message, and returns the new process,
// linked to p if link. The process is a root of its own tree there, with
// the memory a child gets when its tree has no limit (DefaultChildMemory).
// It cannot share p's stdio. It takes init over, as SpawnChild does.
//
// Precondition: called by p's own goroutine or turn (the process's owner).
func (p *Process) SpawnRemote(spc Cap, name string, init *Message, link, stdio bool) (*Remote, error) {
	rs := spc.Object.(*RemoteSpawner)
	if stdio {
		dropRefs(init)
		return nil, fmt.Errorf("%w: a process on another node cannot write to this one's stdio", ErrDenied)
	}
	if init == nil {
		init = NewMessage(TagInit, nil)
	}
	init.Tag = TagInit
	p.stamp(init)
	r, err := rs.port.Spawn(rs, name, init, p)
	if err != nil {
		return nil, err
	}
	if link {
		if err := p.Link(r); err != nil {
			r.Kill("its spawner could not link to it")
			r.dropRef()
			return nil, err
		}
	}
	return r, nil
}

// SpawnFor starts module name of spawner spc for another node, with init
// as its first message: a root of its own tree with DefaultChildMemory,
// holding spc as "spawner", as a local child would. It takes init over,
// as SpawnChild does.
//
// Safe from any goroutine.
func (k *Kernel) SpawnFor(ctx context.Context, spc Cap, name string, init *Message) (*Process, error) {
	sp := spc.Object.(*Spawner)
	m, ok := sp.Modules[name]
	if !ok {
		init.DropRefs()
		return nil, fmt.Errorf("%w: no module %q in this spawner", ErrNoMatch, name)
	}
	spec := Spec{Args: []string{name}, MemoryLimit: DefaultChildMemory, Grants: map[string]Cap{"spawner": spc}}
	if err := m.runnable(spec.MemoryLimit); err != nil {
		init.DropRefs()
		return nil, err
	}
	g := k.newGroup(ctx, GroupLimits{Memory: DefaultChildMemory})
	init.Tag = TagInit
	k.stampHost(init)
	p, err := k.spawn(ctx, m, spec, nil, g, init, false)
	if err != nil {
		g.disarm()
		return nil, err
	}
	return p, nil
}

// addWatch implements Target.
func (r *Remote) addWatch(w *watch) bool {
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		r.awaitSignals()
		return true
	}
	r.watches.add(w)
	r.mu.Unlock()
	return false
}

// removeWatch implements Target.
func (r *Remote) removeWatch(w *watch) {
	r.mu.Lock()
	r.watches.remove(w)
	idle := r.idleLocked()
	r.mu.Unlock()
	if idle {
		r.port.Release(r)
	}
}

// Reply is the answer slot of one call that crosses nodes: on the caller's
// node, the port answers it when the reply arrives; on the callee's node,
// it learns the answer through Notify. The zero Reply is no call.
type Reply struct{ s *replySlot }

// Valid reports whether r is a call's slot.
func (r Reply) Valid() bool { return r.s != nil }

// Answer delivers m as the reply; it reports false if the caller has gone.
//
// Safe from any goroutine.
func (r Reply) Answer(m *Message) bool { return r.s.answer(m) }

// Abandon ends the call without an answer: the caller gets ErrGone.
//
// Safe from any goroutine.
func (r Reply) Abandon() { r.s.abandon() }

// Fail ends the call without an answer: the caller gets err (ErrGone if
// nil), as when the owner of a remote target refused the call.
//
// Safe from any goroutine.
func (r Reply) Fail(err error) { r.s.failWith(err) }

// Trace returns the causality id the call carries, which its reply keeps.
func (r Reply) Trace() (hi, lo uint64) { return r.s.traceHi, r.s.trace }

// Notify arranges for f to run once when the call is settled: with the
// reply, or with nil when nobody will answer. It runs at once if the call
// is settled already. f must not block.
//
// Safe from any goroutine; at most one f per call.
func (r Reply) Notify(f func(m *Message)) {
	s := r.s
	s.mu.Lock()
	if s.state == slotWaiting {
		s.notify = f
		s.mu.Unlock()
		return
	}
	m := s.msg
	s.mu.Unlock()
	f(m)
}

// Waiter is whoever a port makes wait for room or an answer: a process
// (a kill ends the wait) or the Go host (its context does).
type Waiter interface {
	// WaitFor blocks until ch is ready, or fails with why it gave up.
	// Precondition: for a process, called by its own goroutine or turn.
	WaitFor(ch <-chan struct{}) error
}

// WaitFor implements Waiter.
func (p *Process) WaitFor(ch <-chan struct{}) error { return p.wait(ch, -1) }

// WaitFor implements Waiter.
func (h hostWaiter) WaitFor(ch <-chan struct{}) error { return h.wait(ch, -1) }

// HostWaiter returns a Waiter bounded by ctx, to make once and reuse.
func HostWaiter(ctx context.Context) Waiter { return hostWaiter{ctx} }

// Forward queues m, which came from another node, in t's mailbox. It
// keeps the causality id m brought; with nonblock it fails with ErrFull
// rather than wait for room, and otherwise waits through w (HostWaiter).
//
// Safe from any goroutine.
func (k *Kernel) Forward(w Waiter, t Target, m *Message, nonblock bool) error {
	k.stampHost(m)
	return t.enqueue(m, modeOf(nonblock), w.(waiter)) // HostWaiter's, or a process's
}

// ForwardCall queues m, a call from another node, in t's mailbox as a
// request, and returns the slot its answer will arrive in (see
// Reply.Notify). Otherwise it behaves as Forward.
//
// Safe from any goroutine.
func (k *Kernel) ForwardCall(w Waiter, t Target, m *Message, nonblock bool) (Reply, error) {
	k.stampHost(m)
	slot := newReplySlot()
	slot.traceHi, slot.trace = m.TraceHi, m.Trace
	m.reply = slot
	if err := t.enqueue(m, modeOf(nonblock), w.(waiter)); err != nil {
		m.reply = nil
		return Reply{}, err
	}
	return Reply{slot}, nil
}

// NewCall returns a fresh reply slot for m, for a port that turns a call
// into a request to another node and back. Precondition: m is not queued.
func NewCall(m *Message) Reply {
	slot := newReplySlot()
	slot.traceHi, slot.trace = m.TraceHi, m.Trace
	return Reply{slot}
}

// LinkExitFrom delivers to t the exit signal of a process on another node
// that was linked to it: t reacts as to a local linked process's exit,
// but the signal names no handle (aux 0 in a trapped TagExit).
//
// Safe from any goroutine.
func LinkExitFrom(t Target, exit isleapi.Exit) {
	switch t := t.(type) {
	case *Process:
		_ = t.exitSignal(nil, exit, false)
	case *Service:
		if cur := t.cur.Load(); cur != nil {
			_ = cur.exitSignal(nil, exit, false)
		}
	case *Remote:
		if !t.Ended() {
			t.port.LinkExit(t, exit)
		}
	}
}

// WatchFrom calls f once, from whoever ends t, with t's exit when it ends
// (at once if it has ended already), on behalf of node. cancel stops it.
// f must not block.
//
// Safe from any goroutine.
func WatchFrom(t Target, node string, f func(isleapi.Exit)) (cancel func()) {
	w := &watch{target: t, node: node, notify: f}
	if t.addWatch(w) {
		f(exitOf(t))
		return func() {}
	}
	return w.cancel
}

// exitOf returns how an ended target ended.
func exitOf(t Target) isleapi.Exit {
	var e isleapi.Exit
	switch t := t.(type) {
	case *Process:
		e, _ = t.Exit()
	case *Service:
		e, _ = t.Exit()
	case *Remote:
		e, _ = t.Exit()
	}
	return e
}
