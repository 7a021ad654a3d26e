package cluster

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Node is this process's membership in a cluster: an embedded NATS
// server (or a connection to an existing NATS), a connection for the
// caller's traffic, and the heartbeats that track the other nodes.
//
// Safe from any goroutine.
type Node struct {
	cfg     Config
	log     *slog.Logger
	inc     uint64
	srv     *server.Server // nil in NATSURL mode
	nc      *nats.Conn     // the caller's traffic
	mc      *nats.Conn     // membership traffic, so a flood on nc cannot delay heartbeats
	beatSub string
	ev      *dispatcher

	kick     chan struct{} // buffered 1: send a heartbeat now
	stop     chan struct{} // closed when closing or killed
	loopDone chan struct{}

	id      *identity // nil without credentials
	refused refusals

	mu        sync.Mutex // guards below; taken before ev.mu
	tab       *table
	changed   chan struct{} // closed and replaced whenever tab changes state
	closed    bool
	dupLogged bool
	ctr       uint64              // the last beat's counter
	guard     beatGuard           // with credentials
	certs     map[string]peerCert // each peer's, for its current incarnation
	links     map[string]*link    // each peer's session keys, with credentials
}

// peerCert is the certificate a peer's incarnation signs its beats with.
type peerCert struct {
	inc  uint64
	cert *memberCert
}

// Start joins the cluster: it starts the embedded server (or connects to
// cfg.NATSURL), waits until it is ready, and starts heartbeats. It does not
// wait for peers; see WaitPeer. ctx bounds the start only.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg: cfg, inc: incarnation(), beatSub: "isle." + cfg.Cluster + ".member.beat",
		kick: make(chan struct{}, 1), stop: make(chan struct{}), loopDone: make(chan struct{}),
		changed: make(chan struct{}),
		guard:   beatGuard{}, certs: map[string]peerCert{}, links: map[string]*link{},
	}
	n.log = cfg.Logger.With("node", cfg.Name)
	n.refused.init(n.log)
	if cfg.Creds != nil {
		if n.id, err = newIdentity(cfg.Cluster, cfg.Name, cfg.Creds); err != nil {
			return nil, err
		}
	}
	n.tab = newTable(cfg.Name, n.inc, cfg.DownAfter)
	if err := n.connect(ctx); err != nil {
		n.shutdown()
		return nil, err
	}
	if _, err := n.mc.Subscribe(n.beatSub, n.onBeat); err != nil {
		n.shutdown()
		return nil, fmt.Errorf("cluster membership subscription: %w", err)
	}
	fctx, cancel := withDefaultDeadline(ctx)
	defer cancel()
	if err := n.mc.FlushWithContext(fctx); err != nil {
		n.shutdown()
		return nil, fmt.Errorf("cluster membership subscription: %w", err)
	}
	if cfg.Ready != nil {
		// Before the first heartbeat: no member can see this node up, and
		// publish to what Ready subscribes, before the subscription is
		// known to its server (and, through the route, to theirs).
		if err := cfg.Ready(n.nc); err != nil {
			n.shutdown()
			return nil, err
		}
		if err := n.nc.FlushWithContext(fctx); err != nil {
			n.shutdown()
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	n.ev = newDispatcher()
	go n.ev.run()
	go n.loop()
	n.log.Info("cluster node started", "cluster", cfg.Cluster, "incarnation", n.inc, "routes", n.RouteAddr())
	return n, nil
}

func incarnation() uint64 {
	var b [8]byte
	for {
		rand.Read(b[:])
		if i := binary.LittleEndian.Uint64(b[:]); i != 0 {
			return i
		}
	}
}

// withDefaultDeadline bounds ctx by 10 s unless it has a deadline.
func withDefaultDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, 10*time.Second)
}

// connect starts the embedded server and dials it in-process, or dials
// cfg.NATSURL.
func (n *Node) connect(ctx context.Context) error {
	opts := []nats.Option{nats.Name("isle-" + n.cfg.Name), nats.ErrorHandler(n.asyncError)}
	if n.cfg.NATSURL != "" {
		opts = append(opts, nats.MaxReconnects(-1), nats.ReconnectWait(n.cfg.Heartbeat))
		opts = append(opts, n.cfg.NATSOptions...)
		return n.dial(n.cfg.NATSURL, opts)
	}
	srv, err := n.startServer(ctx)
	if err != nil {
		return err
	}
	n.srv = srv
	return n.dial("", append(opts, nats.InProcessServer(srv), nats.NoReconnect()))
}

func (n *Node) dial(url string, opts []nats.Option) error {
	var err error
	if n.nc, err = nats.Connect(url, opts...); err != nil {
		return fmt.Errorf("cluster: connecting to NATS %s: %w", url, err)
	}
	// Membership needs no echo of its own heartbeats; another node's
	// using this node's name still shows, as it comes on another
	// connection.
	if n.mc, err = nats.Connect(url, append(opts, nats.NoEcho())...); err != nil {
		return fmt.Errorf("cluster: connecting to NATS %s: %w", url, err)
	}
	return nil
}

func (n *Node) asyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	subj := ""
	if sub != nil {
		subj = sub.Subject
	}
	n.log.Warn("NATS asynchronous error", "subject", subj, "err", err)
}

// Name returns this node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Incarnation returns this Start's random, non-zero incarnation.
func (n *Node) Incarnation() uint64 { return n.inc }

// Conn returns the node's connection for the caller's traffic: in-process
// to the embedded server, or to cfg.NATSURL. The membership layer uses a
// connection of its own. Do not close it; Close and Kill do.
func (n *Node) Conn() *nats.Conn { return n.nc }

// RouteAddr returns the address the route listener is bound to ("" without
// one), useful when Config.Listen asked for port 0.
func (n *Node) RouteAddr() string {
	if n.srv == nil {
		return ""
	}
	if a := n.srv.ClusterAddr(); a != nil {
		return a.String()
	}
	return ""
}

// Subject returns "isle.<cluster>." followed by parts joined with ".".
// The token "member" right after the cluster is reserved for membership.
func (n *Node) Subject(parts ...string) string {
	return "isle." + n.cfg.Cluster + "." + strings.Join(parts, ".")
}

// Members returns every known node, self first, then by name; Down ones
// included.
func (n *Node) Members() []Member {
	n.mu.Lock()
	ms := n.tab.members(time.Now())
	n.mu.Unlock()
	slices.SortFunc(ms[1:], func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return ms
}

// Peer returns the member called name, if known (self included).
func (n *Node) Peer(name string) (Member, bool) {
	if name == n.cfg.Name {
		return Member{Name: name, Incarnation: n.inc, Up: true, LastSeen: time.Now()}, true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if p := n.tab.peers[name]; p != nil {
		return p.member(), true
	}
	return Member{}, false
}

// EndSession ends this node's link to the member called name if session
// (Member.Session) is still its current one, as if the member had fallen
// silent: a Down event with ReasonNoConnection, and at the next heartbeats
// both sides set up a new link. Its caller found the member breaking the
// protocol on that link (why), which a new session may cure and which
// nothing less can.
//
// Safe from any goroutine.
func (n *Node) EndSession(name string, session uint64, why string) {
	n.mu.Lock()
	p := n.tab.peers[name]
	ended := p != nil && p.up && p.mine == session
	if ended {
		n.emitLocked(n.tab.down(p, ReasonNoConnection, nil))
	}
	n.mu.Unlock()
	if !ended {
		return
	}
	n.log.Warn("cluster: ending the session with a member that broke the protocol", "peer", name, "why", why)
	select {
	case n.kick <- struct{}{}: // tell the member now
	default:
	}
}

// Admit reports whether a message from peer stamped s (the sender's
// Member.Stamp() for this node) belongs to this node's current link with
// peer. A message from an ended session is refused, even after the link
// came Up again. The peer stamps only once it has declared the link Up,
// which can happen just before this node does: then Admit declares it Up
// here too (the Up event follows through OnChange) and admits it.
// Admit proves nothing about the sender: Open checks the stamp as Admit
// does, and with credentials that the data is the peer's.
func (n *Node) Admit(peer string, s Stamp) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	evs, ok := n.tab.admit(peer, s)
	n.emitLocked(evs)
	return ok
}

// emitLocked queues events in table order and wakes WaitPeer.
//
// Precondition: n.mu held.
func (n *Node) emitLocked(evs []Event) {
	if len(evs) == 0 {
		return
	}
	n.dropLinksLocked(evs)
	n.ev.push(evs)
	close(n.changed)
	n.changed = make(chan struct{})
}

// OnChange registers f for every later Up and Down event. Events reach
// all functions in the order they happened, from one goroutine, never
// concurrently; a slow f delays later events but never the membership
// protocol. After cancel returns, f is not called again, unless it is
// running then. f may call any Node method but Close.
func (n *Node) OnChange(f func(Event)) (cancel func()) {
	return n.ev.add(f)
}

// WaitPeer waits until the member called name is Up, and returns it.
func (n *Node) WaitPeer(ctx context.Context, name string) (Member, error) {
	for {
		n.mu.Lock()
		var m Member
		p := n.tab.peers[name]
		if p != nil {
			m = p.member()
		}
		ch, closed := n.changed, n.closed
		n.mu.Unlock()
		if closed {
			return Member{}, ErrClosed
		}
		if name == n.cfg.Name {
			m, _ = n.Peer(name)
			return m, nil
		}
		if m.Up {
			return m, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return Member{}, fmt.Errorf("waiting for cluster node %s: %w", name, ctx.Err())
		}
	}
}

// loop sends heartbeats every Heartbeat, and at once when the view
// changed, and ends the sessions of silent peers and of those that lost
// a batch.
func (n *Node) loop() {
	defer close(n.loopDone)
	tick := time.NewTicker(n.cfg.Heartbeat)
	defer tick.Stop()
	for {
		n.send(false, "")
		select {
		case <-n.stop:
			return
		case now := <-tick.C:
			n.mu.Lock()
			evs, _ := n.tab.expire(now)
			lost := n.stalledLocked(now)
			for _, p := range lost {
				evs = n.tab.down(p, ReasonNoConnection, evs)
			}
			n.emitLocked(evs)
			n.mu.Unlock()
			for _, p := range lost {
				n.log.Warn("cluster: a batch from a member was lost; ending the session", "peer", p.name, "waited_over", n.cfg.DownAfter)
			}
		case <-n.kick:
		}
	}
}

// send publishes a heartbeat, or a leave (asking for replies on reply).
func (n *Node) send(leave bool, reply string) {
	b := beat{Leave: leave, Name: n.cfg.Name, Inc: n.inc}
	n.mu.Lock()
	if !leave {
		b.View = n.viewLocked()
	}
	n.ctr = max(n.ctr+1, uint64(time.Now().UnixNano()))
	b.Ctr = n.ctr
	// A beat of this node's played back to it is stale too.
	n.guard[n.cfg.Name] = seenBeat{n.inc, n.ctr, time.Now()}
	n.mu.Unlock()
	data, err := encodeBeat(n.id, &b)
	if err == nil {
		err = n.mc.PublishMsg(&nats.Msg{Subject: n.beatSub, Reply: reply, Data: data})
	}
	if err != nil && !n.mc.IsClosed() {
		n.log.Debug("cluster heartbeat not sent", "err", err)
	}
}

// onBeat handles a heartbeat or leave from any node, self included.
func (n *Node) onBeat(msg *nats.Msg) {
	now := time.Now()
	b, cert, err := decodeBeat(n.id, msg.Data, now)
	if err != nil {
		from := "?"
		if b != nil {
			from = b.Name
		}
		n.refuse("heartbeat", from, err)
		return
	}
	if n.id != nil && !n.checkFresh(b, now) {
		return
	}
	if b.Leave {
		n.mu.Lock()
		n.emitLocked(n.tab.leave(b))
		n.mu.Unlock()
		if msg.Reply != "" && b.Name != n.cfg.Name {
			msg.Respond([]byte(n.cfg.Name))
		}
		return
	}
	n.mu.Lock()
	if n.closed {
		// Leaving: a peer that has seen the leave drops the link, which
		// must not read here as a reset; Close ends the links itself.
		n.mu.Unlock()
		return
	}
	evs, changed, dup := n.tab.beat(now, b)
	n.noteSealedLocked(b)
	if p := n.tab.peers[b.Name]; p != nil && p.inc == b.Inc && cert != nil {
		n.certs[b.Name] = peerCert{b.Inc, cert}
	}
	n.emitLocked(evs)
	logDup := dup && !n.dupLogged
	n.dupLogged = n.dupLogged || dup
	n.mu.Unlock()
	if logDup {
		n.log.Error("another node uses this node's name; give each node a unique name", "incarnation", b.Inc)
	}
	if n.cfg.beatHook != nil {
		n.cfg.beatHook(b.Name)
	}
	if changed {
		select {
		case n.kick <- struct{}{}:
		default:
		}
	}
}

// checkFresh reports whether b, whose signature holds, is newer than
// every beat taken from its sender, and takes it if so. A beat of an
// incarnation the table buried is stale whatever its counter: it would
// change nothing there, and must not move the guard either.
func (n *Node) checkFresh(b *beat, now time.Time) bool {
	n.mu.Lock()
	fresh := !n.tab.isDead(b.Name, b.Inc) && n.guard.fresh(b.Name, b.Inc, b.Ctr, now, n.cfg.DownAfter)
	if fresh {
		n.guard[b.Name] = seenBeat{b.Inc, b.Ctr, now}
	}
	n.mu.Unlock()
	if !fresh {
		n.refuse("heartbeat", b.Name, errStale)
	}
	return fresh
}
