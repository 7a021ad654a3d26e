// Package dist carries processes' messages, calls, links, monitors and
// capabilities between nodes: isle's distribution, over any transport that
// keeps a pair of nodes' batches in order (the cluster package's NATS).
//
// # Exports and remotes
//
// A capability crosses nodes only as an export: the owning node records
// the capability (its target, rights and revocation) and the one node it
// was sent to, under a fresh 64-bit id, and sends the id. The receiving
// node makes a kernel.Remote for it, which its processes hold and use like
// any process handle. Every use arrives at the owner naming the export,
// and the owner checks it against what it exported, and to whom: knowing
// an id gives no right, and a node can use only what was sent to it. When
// an exported target ends, or its capability is revoked, the owner tells
// the holder, whose Remote ends (links and monitors fire) or refuses
// (ErrRevoked). When a node is lost, everything about it goes: its
// exports, its Remotes (which end with ExitNoConnection), calls waiting on
// it. Ids never repeat, so a node that comes back finds nothing it held.
//
// An export also goes when its holder lets go of it: when the last handle,
// message, link or monitor holding the Remote on the holder goes (see
// kernel.Remote), the holder sends fRelease with how many times it
// received the export, and forgets it; the owner counts the times it sent
// it, and forgets it once all are released. A send of the export still on
// its way keeps it, and makes a fresh Remote on arrival. A use after that
// is refused as a forged one would be. A release follows every use the
// holder made on the same ordered stream, and the owner handles it in
// order with them. A node holds at most Config.MaxExports of another's
// exports, and a send past that fails with ErrTooManyExports.
//
// # Spawns
//
// A spawn with a published spawner (fSpawn) starts its child on the owner
// under a context of its own until the child is handed over (fSpawned). If
// the caller stops waiting first (killed: fSpawnCancel), or its node is
// lost, that context ends and the child's tree with it; an answer that
// arrives for a caller gone is answered with a kill. Once handed over, the
// child outlives the session: only a link carries the loss.
//
// # Order and flow
//
// Each pair of nodes has one writer each way, which batches frames in the
// order they were queued. Sends and calls (data frames) draw on a window
// the receiver refills (fCredit) as it queues them, so a sender waits,
// killably, when the other node is behind, as it would for a full
// mailbox. The receiver handles frames in order; when a target's mailbox
// is full, that frame and every ordered frame after it from that node wait
// in turn (a node's traffic to another is one queue, like an Erlang
// distribution connection). Replies, failures, credit and lookups are
// never held: they cannot wait behind a send that waits for them. Held
// frames are bounded: sends and calls by twice the window (the excess is
// dropped), the rest by maxHeldControl (a peer past it has its session
// ended through Config.Broken).
//
// # Lock order
//
//	Dist.mu    the peers and the published names
//	peer.inMu  a peer's held incoming frames
//	peer.mu    a peer's outgoing frames, window, calls, exports, remotes
//
// No lock is held while calling into the kernel, except that peer.mu may
// be held to build a Remote, count a copy of it, or ask it whether it is
// idle, and peer.inMu to drop a held message (which may queue a frame).
package dist

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	isleapi "github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/kernel"
)

// Errors.
var (
	// ErrNoNode is a node this one does not see up.
	ErrNoNode = errors.New("no such node up in the cluster")
	// ErrNotTransferable is a capability that cannot cross nodes: only
	// process and service handles can.
	ErrNotTransferable = fmt.Errorf("%w: only process and service handles cross nodes", kernel.ErrDenied)
	// ErrRefused is a lookup of a name the other node does not publish to
	// this one.
	ErrRefused = errors.New("the node does not publish that service to this one")
	// ErrTooManyExports is a handle that cannot be sent to a node holding
	// Config.MaxExports of this node's handles already. It is a
	// kernel.ErrLimit: the guest sees ELIMIT.
	ErrTooManyExports = fmt.Errorf("%w: too many handles exported to one node", kernel.ErrLimit)
)

// Defaults.
const (
	DefaultWindow      = 4096     // data frames in flight from one node to another
	DefaultWindowBytes = 16 << 20 // their bytes
	DefaultMaxBatch    = 256 << 10
	// maxStarting bounds the spawns one node may have starting here.
	maxStarting = 64
	// MaxExports bounds the handles one node holds exported to another
	// (and held from it), by default: each new revocable forwarder sent
	// across is a new export, kept until the holder lets go of it or its
	// target ends.
	MaxExports = 1 << 20
	maxCaps    = kernel.MaxMessageHandles
)

// Config configures a Dist.
type Config struct {
	Kernel *kernel.Kernel
	// Self is this node's name.
	Self string
	// Send hands a batch to the transport for a peer, on the link Up
	// was given. Batches on one link must arrive in the order they were
	// handed over. Send must not hold on to batch after it returns.
	Send func(link any, batch []byte) error
	// MaxFrame is the largest batch the transport carries; a message
	// whose frame would be larger fails with kernel.ErrTooBig.
	MaxFrame int
	// Window and WindowBytes bound the data frames in flight to a peer.
	Window, WindowBytes int
	// MaxExports bounds the handles exported to one peer, and held from
	// it; zero means MaxExports.
	MaxExports int
	// Broken, if set, is told that peer broke the protocol in session
	// (why says how) so that the session must end; it should end the
	// link, so that both sides set up a new one, and Down follows. If nil,
	// dist ends the session itself, as Down does.
	Broken func(peer string, session uint64, why string)
	Logger *slog.Logger
}

// Dist is one node's end of the distribution.
type Dist struct {
	cfg Config
	k   *kernel.Kernel
	log *slog.Logger
	ids atomic.Uint64 // the next export, call or lookup id

	mu        sync.Mutex // guards peers, published, closed
	peers     map[string]*peer
	published map[string]publication
	closed    bool
}

// publication is a service a node offers by name to some others.
type publication struct {
	cap   kernel.Cap
	allow func(node string) bool
}

// New returns a Dist with no peers.
func New(cfg Config) *Dist {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.WindowBytes <= 0 {
		cfg.WindowBytes = DefaultWindowBytes
	}
	if cfg.MaxFrame <= 0 {
		cfg.MaxFrame = 1 << 20
	}
	if cfg.MaxExports <= 0 {
		cfg.MaxExports = MaxExports
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Dist{cfg: cfg, k: cfg.Kernel, log: cfg.Logger, peers: map[string]*peer{}, published: map[string]publication{}}
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	d.ids.Store(binary.LittleEndian.Uint64(seed[:]) >> 2) // room before it wraps
	return d
}

func (d *Dist) newID() uint64 { return d.ids.Add(1) }

// Up starts session number session with peer, which the membership layer
// sees up; link is what Config.Send is given for it. The same session
// twice is one; a new session ends the old one first, as Down does.
//
// Safe from any goroutine.
func (d *Dist) Up(name string, session uint64, link any) {
	d.mu.Lock()
	old := d.peers[name]
	if d.closed || (old != nil && old.session == session) {
		d.mu.Unlock()
		return
	}
	p := newPeer(d, name, session, link)
	d.peers[name] = p
	d.mu.Unlock()
	if old != nil {
		old.end(lost("a new session replaced it"))
	}
	go p.write()
}

// Down ends session number session with peer, if it is the current one:
// its Remotes end with ExitNoConnection (reason says how the peer was
// lost), calls waiting on it fail with ErrGone, and everything it was sent
// is forgotten.
//
// Safe from any goroutine.
func (d *Dist) Down(name string, session uint64, reason string) {
	d.mu.Lock()
	p := d.peers[name]
	if p == nil || p.session != session {
		d.mu.Unlock()
		return
	}
	delete(d.peers, name)
	d.mu.Unlock()
	p.end(lost(reason))
}

func lost(reason string) isleapi.Exit {
	return isleapi.Exit{Kind: isleapi.ExitNoConnection, Killed: reason}
}

// Close ends every session, as Down does, and refuses new ones.
//
// Safe from any goroutine.
func (d *Dist) Close(reason string) {
	d.mu.Lock()
	d.closed = true
	peers := d.peers
	d.peers = map[string]*peer{}
	d.mu.Unlock()
	for _, p := range peers {
		p.end(lost(reason))
	}
}

func (d *Dist) peer(name string) *peer {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.peers[name]
}

// Peers returns the nodes this one has a session with.
//
// Safe from any goroutine.
func (d *Dist) Peers() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	names := make([]string, 0, len(d.peers))
	for n := range d.peers {
		names = append(names, n)
	}
	return names
}

// Deliver handles a batch that came from peer in session number
// session. The caller vouches for both (the membership layer admitted
// it); a batch of any other session is dropped.
//
// Safe from any goroutine, but batches from one peer must be delivered
// one at a time, in order.
func (d *Dist) Deliver(from string, session uint64, batch []byte) {
	p := d.peer(from)
	if p == nil || p.session != session {
		return // not (or no longer) in session: nothing it says counts
	}
	p.deliver(batch)
}

// Publish offers c under name to the nodes allow admits (all, if nil),
// which get it with Lookup.
//
// Safe from any goroutine.
func (d *Dist) Publish(name string, c kernel.Cap, allow func(node string) bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.published[name] = publication{cap: c, allow: allow}
}

// Lookup asks node for the service it publishes under name, and returns
// a capability for it. It fails with ErrRefused when node does not
// publish name to this node (perhaps not yet), and ErrNoNode when node is
// not up.
//
// Safe from any goroutine.
func (d *Dist) Lookup(ctx context.Context, node, name string) (kernel.Cap, error) {
	p := d.peer(node)
	if p == nil {
		return kernel.Cap{}, fmt.Errorf("%w: %s", ErrNoNode, node)
	}
	return p.lookup(ctx, name)
}

// Exports returns how many exports this node holds for peer, and how many
// Remotes it holds for peer's exports.
//
// Safe from any goroutine.
func (d *Dist) Exports(node string) (exports, remotes int) {
	p := d.peer(node)
	if p == nil {
		return 0, 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.exports), len(p.remotes)
}
