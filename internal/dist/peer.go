package dist

import (
	"context"
	"errors"
	"fmt"
	"sync"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/kernel"
)

// peer is one session with another node: this node's side of everything
// the two share. A session ends for good; a node that comes back gets a
// new peer.
type peer struct {
	d       *Dist
	name    string
	session uint64          // the membership layer's number for the session
	link    any             // what Config.Send takes for it
	ctx     context.Context // done when the session ends
	cancel  context.CancelFunc
	wait    kernel.Waiter // bounded by ctx, for handing frames on
	kick    chan struct{} // wakes the writer

	mu          sync.Mutex // guards everything below
	down        bool
	batches     [][]byte // frames for the writer, each batch under MaxBatch
	free        [][]byte // written batches, for reuse
	inflight    int      // data frames sent and not yet credited
	inflightB   int      // their bytes
	space       chan struct{}
	calls       map[uint64]kernel.Reply // our calls waiting for an answer
	lookups     map[uint64]chan grant
	spawns      map[uint64]*spawning
	spawners    map[uint64]*kernel.RemoteSpawner // the peer's spawners, held here
	exports     map[uint64]*export               // what this node exported to the peer
	byKey       map[exportKey]*export
	remotes     map[uint64]*imported // the peer's exports, held here
	consumed    int                  // data frames taken and not yet credited
	consumedB   int
	malformedOK bool // a malformed batch was logged

	starting map[uint64]context.CancelCauseFunc // spawns for the peer still starting, by request

	inMu    sync.Mutex // guards everything below
	overrun bool       // the peer sent past its window (logged once)
	broken  bool       // the peer is past maxHeldControl: its session ends
	// heldData and heldBytes count the sends and calls in held and in
	// drain's run, and their bytes; heldCtl and heldCtlBytes the other
	// frames there, and their bytes on the wire.
	heldData, heldBytes   int
	heldCtl, heldCtlBytes int
	held                  []heldFrame
	spare                 []heldFrame // drain's last run, emptied, for the next
	draining              bool
}

var _ kernel.RemotePort = (*peer)(nil)

// export is one capability exported to the peer: a process or service
// (target is set), or a spawner.
type export struct {
	id       uint64
	cap      kernel.Cap
	target   kernel.Target
	key      exportKey
	sent     uint64 // times its id went to the peer, less those released
	links    int    // processes on the peer linked to the target
	unwatch  func()
	unrevoke func()
}

// exportKey makes exporting the same capability twice give one export.
type exportKey struct {
	target any
	rights isleapi.Rights
	rev    *kernel.Revocation
}

type grant struct {
	code   byte
	kind   capkind.Kind
	rights isleapi.Rights
	id     uint64
}

// spawning is one of this node's spawns on the peer, waiting for its
// answer.
type spawning struct {
	done chan struct{}
	g    grant
	ok   bool
}

func newPeer(d *Dist, name string, session uint64, link any) *peer {
	ctx, cancel := context.WithCancel(context.Background())
	return &peer{d: d, name: name, session: session, link: link, ctx: ctx, cancel: cancel, wait: kernel.HostWaiter(ctx), kick: make(chan struct{}, 1),
		calls: map[uint64]kernel.Reply{}, lookups: map[uint64]chan grant{}, spawns: map[uint64]*spawning{},
		spawners: map[uint64]*kernel.RemoteSpawner{}, starting: map[uint64]context.CancelCauseFunc{},
		exports: map[uint64]*export{}, byKey: map[exportKey]*export{}, remotes: map[uint64]*imported{}}
}

// end tears the session down: see Dist.Down.
func (p *peer) end(exit isleapi.Exit) {
	p.cancel()
	p.mu.Lock()
	p.down = true
	if p.space != nil {
		close(p.space)
		p.space = nil
	}
	calls, exports, remotes, lookups := p.calls, p.exports, p.remotes, p.lookups
	spawns, spawners, starting := p.spawns, p.spawners, p.starting
	p.calls, p.exports, p.byKey, p.remotes, p.lookups = nil, nil, nil, nil, nil
	p.spawns, p.spawners, p.starting = nil, nil, nil
	p.batches = nil
	p.mu.Unlock()
	for _, r := range calls {
		r.Abandon()
	}
	for _, ch := range lookups {
		close(ch)
	}
	for _, s := range spawns {
		close(s.done)
	}
	for _, s := range spawners {
		s.Revocation().Revoke()
	}
	for _, cancel := range starting {
		cancel(errors.New("its spawner's node was lost as it started")) // nobody could ever hold it
	}
	for _, e := range exports {
		e.forgotten()
		if e.links > 0 && e.target != nil {
			// Processes there were linked to it: as in Erlang, the link
			// breaks with noconnection on this side too.
			kernel.LinkExitFrom(e.target, exit)
		}
	}
	for _, im := range remotes {
		im.r.End(exit)
	}
	p.inMu.Lock()
	held := p.held
	p.held = nil
	p.inMu.Unlock()
	for _, h := range held {
		h.discard()
	}
}

// batch returns the open batch to append a frame of about size bytes to,
// for sent. Precondition: p.mu is held.
func (p *peer) batch(size int) []byte {
	n := len(p.batches)
	if n == 0 || len(p.batches[n-1])+size > DefaultMaxBatch {
		var b []byte
		if k := len(p.free); k > 0 {
			b, p.free = p.free[k-1][:0], p.free[:k-1]
		}
		p.batches = append(p.batches, append(b, wireVersion))
		n++
	}
	return p.batches[n-1]
}

// sent makes b, the open batch with frames appended, ready for the
// writer, and wakes it. Precondition: p.mu is held.
func (p *peer) sent(b []byte) {
	p.batches[len(p.batches)-1] = b
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// queue appends a frame for the writer. Precondition: p.mu is held.
func (p *peer) queue(frame []byte) {
	p.sent(append(p.batch(len(frame)), frame...))
}

// control queues a frame outside the window: it never waits.
func (p *peer) control(frame []byte) {
	p.mu.Lock()
	if !p.down {
		p.queue(frame)
	}
	p.mu.Unlock()
}

// write hands the queued batches to the transport until the session ends.
// Whatever queued while it sent goes in the next round: frames that come
// fast share batches, and one alone goes at once.
func (p *peer) write() {
	for {
		select {
		case <-p.kick:
		case <-p.ctx.Done():
			return
		}
		p.mu.Lock()
		out := p.batches
		p.batches = nil
		p.mu.Unlock()
		for _, b := range out {
			if err := p.d.cfg.Send(p.link, b); err != nil {
				p.d.log.Warn("cluster: sending to a node failed; it will be declared down if it stays unreachable",
					"node", p.name, "err", err)
			}
		}
		p.mu.Lock()
		if len(p.free) < 4 {
			for _, b := range out {
				if cap(b) <= 2*DefaultMaxBatch {
					p.free = append(p.free, b)
				}
			}
		}
		p.mu.Unlock()
	}
}

// Send implements kernel.RemotePort.
func (p *peer) Send(r *kernel.Remote, m *kernel.Message, reply kernel.Reply, block bool, wait kernel.Waiter) error {
	wm, err := p.outMsg(m)
	if err != nil {
		return err
	}
	size := wm.size()
	if size+1 > p.d.cfg.MaxFrame {
		p.unsentMsg(&wm)
		return fmt.Errorf("%w: %d bytes with its header cross nodes; the transport carries at most %d",
			kernel.ErrTooBig, size+1, p.d.cfg.MaxFrame)
	}
	if len(wm.caps) > 0 {
		// A process's wait ends in a panic when it is killed.
		queued := false
		defer func() {
			if !queued {
				p.unsentMsg(&wm)
			}
		}()
		if err := p.room(size, block, wait); err != nil {
			return err
		}
		queued = true
	} else if err := p.room(size, block, wait); err != nil {
		return err
	}
	var id uint64
	b := p.batch(size)
	if reply.Valid() {
		id = p.d.newID()
		p.calls[id] = reply
		b = putUvarint(putUvarint(append(b, fCall), r.ID), id)
	} else {
		b = putUvarint(append(b, fSend), r.ID)
	}
	b = putMsg(b, &wm)
	p.sent(b)
	p.inflight++
	p.inflightB += size
	p.mu.Unlock()
	if reply.Valid() {
		reply.Notify(func(ans *kernel.Message) {
			if ans == nil { // the caller gave up, or the answer failed
				p.mu.Lock()
				delete(p.calls, id)
				p.mu.Unlock()
			}
		})
	}
	m.Discard()
	return nil
}

// room waits until the window has room for a data frame of size bytes,
// and returns with p.mu held; it fails with p.mu not held.
func (p *peer) room(size int, block bool, wait kernel.Waiter) error {
	p.mu.Lock()
	for p.inflight > 0 && (p.inflight >= p.d.cfg.Window || p.inflightB+size > p.d.cfg.WindowBytes) {
		if p.down {
			p.mu.Unlock()
			return kernel.ErrGone
		}
		if !block {
			p.mu.Unlock()
			return kernel.ErrFull
		}
		if p.space == nil {
			p.space = make(chan struct{})
		}
		ch := p.space
		p.mu.Unlock()
		if err := wait.WaitFor(ch); err != nil {
			return err
		}
		p.mu.Lock()
	}
	if p.down {
		p.mu.Unlock()
		return kernel.ErrGone
	}
	return nil
}

// LinkExit implements kernel.RemotePort.
func (p *peer) LinkExit(r *kernel.Remote, exit isleapi.Exit) {
	p.control(putExit(putUvarint([]byte{fLinkExit}, r.ID), exit))
}

// Kill implements kernel.RemotePort. A Remote is killed once: the owner
// checks every kill against the same export, so a second could only do
// what the first did, and a guest killing one handle in a loop would
// otherwise send a frame at each turn.
func (p *peer) Kill(r *kernel.Remote, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	im := p.remotes[r.ID]
	if p.down || (im != nil && im.r == r && im.killed) {
		return
	}
	if im != nil && im.r == r {
		im.killed = true
	}
	p.queue(putString(putUvarint([]byte{fKill}, r.ID), reason))
}

// outMsg turns m into its wire form, exporting the capabilities it
// carries to the peer. Each export is counted as sent: a caller whose
// frame does not leave takes the sends back (unsentMsg).
func (p *peer) outMsg(m *kernel.Message) (wireMsg, error) {
	wm := wireMsg{tag: m.Tag, traceHi: m.TraceHi, trace: m.Trace, span: m.Span, spanFlags: m.SpanFlags, data: m.Data}
	for _, c := range m.Caps {
		ref, err := p.capRef(c)
		if err != nil {
			p.unsentMsg(&wm)
			return wireMsg{}, err
		}
		wm.caps = append(wm.caps, ref)
	}
	return wm, nil
}

// capRef names c on the wire: the peer's own export when c is the
// peer's, unnarrowed by any revocation made here; otherwise an export of
// c to the peer.
func (p *peer) capRef(c kernel.Cap) (capRef, error) {
	if c.Kind != capkind.Process {
		return capRef{}, fmt.Errorf("%w (this one is a %s handle)", ErrNotTransferable, c.Kind)
	}
	if r, ok := c.Object.(*kernel.Remote); ok && r.Node == p.name && c.Rev == r.Revocation() {
		return capRef{kind: c.Kind, rights: c.Rights, owner: p.name, export: r.ID}, nil
	}
	e, err := p.export(c)
	if err != nil {
		return capRef{}, err
	}
	return capRef{kind: c.Kind, rights: c.Rights, export: e.id}, nil
}

// spawner returns this node's proxy for the peer's spawner export id.
func (p *peer) spawner(id uint64) *kernel.RemoteSpawner {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return nil
	}
	s := p.spawners[id]
	if s == nil {
		s = kernel.NewRemoteSpawner(p.name, id, p)
		p.spawners[id] = s
	}
	return s
}

// Link implements kernel.RemotePort.
func (p *peer) Link(r *kernel.Remote) { p.control(putUvarint([]byte{fLink}, r.ID)) }

// Unlink implements kernel.RemotePort.
func (p *peer) Unlink(r *kernel.Remote) { p.control(putUvarint([]byte{fUnlink}, r.ID)) }

// lookup asks the peer for a published service.
func (p *peer) lookup(ctx context.Context, name string) (kernel.Cap, error) {
	id := p.d.newID()
	ch := make(chan grant, 1)
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		return kernel.Cap{}, fmt.Errorf("%w: %s", ErrNoNode, p.name)
	}
	p.lookups[id] = ch
	p.queue(putString(putUvarint([]byte{fLookup}, id), name))
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.lookups, id)
		p.mu.Unlock()
	}()
	select {
	case g, ok := <-ch:
		if !ok {
			return kernel.Cap{}, fmt.Errorf("%w: %s went down", ErrNoNode, p.name)
		}
		if g.code != codeOK {
			return kernel.Cap{}, fmt.Errorf("%w: %q on %s", ErrRefused, name, p.name)
		}
		if g.kind == capkind.Spawner {
			s := p.spawner(g.id)
			if s == nil {
				return kernel.Cap{}, fmt.Errorf("%w: %s went down", ErrNoNode, p.name)
			}
			return kernel.Cap{Kind: capkind.Spawner, Rights: g.rights, Object: s, Rev: s.Revocation()}, nil
		}
		r := p.remote(g.id) // its count is the Go host's, for good
		if r == nil {
			return kernel.Cap{}, fmt.Errorf("%w: %s went down", ErrNoNode, p.name)
		}
		return kernel.Cap{Kind: capkind.Process, Rights: g.rights, Object: r, Rev: r.Revocation()}, nil
	case <-ctx.Done():
		return kernel.Cap{}, ctx.Err()
	}
}
