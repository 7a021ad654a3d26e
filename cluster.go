package isle

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/benchhook"
	"github.com/isle-run/isle/internal/capkind"
	"github.com/isle-run/isle/internal/cluster"
	"github.com/isle-run/isle/internal/dist"
	"github.com/isle-run/isle/internal/kernel"
)

// ClusterConfig joins a node to a cluster of isle nodes over NATS (README,
// "A cluster"). Processes on any node then reach the services other nodes
// publish through handles like any other, with links, monitors and
// revocation across nodes.
type ClusterConfig struct {
	// Name is this node's name, unique in the cluster: [A-Za-z0-9_-]+.
	Name string
	// Cluster names the cluster (default "isle"); nodes of different
	// clusters never talk.
	Cluster string
	// Listen is the host:port this node's embedded NATS server accepts
	// cluster routes on, with mutual TLS; "" means none. An empty host is
	// loopback.
	Listen string
	// Advertise is the host:port other nodes should dial instead of
	// Listen, behind a proxy or NAT.
	Advertise string
	// Join lists other nodes' Listen addresses.
	Join []string
	// Credentials is the directory `isle cluster init` made, holding the
	// cluster's CA and this node's certificate and key. Required with
	// Listen or Join; optional with NATSURL. With them, members sign
	// their heartbeats and seal what they send one another, so no member
	// can speak for another or read what others are sent.
	Credentials string
	// NATSURL uses an existing NATS deployment instead of an embedded
	// server; NATSOptions carry its credentials. Without Credentials,
	// members then trust the deployment's permissions to keep each to
	// its own name.
	NATSURL     string
	NATSOptions []nats.Option
	// Heartbeat and DownAfter set failure detection: a node silent for
	// DownAfter is declared down, and every link and monitor on its
	// processes fires with ExitNoConnection (defaults 250 ms and 1.5 s).
	Heartbeat, DownAfter time.Duration

	maxExports int // dist.Config.MaxExports, for tests
}

// Member is one node of the cluster, as this node sees it.
type Member struct {
	Name string `json:"name"`
	// Self is this node.
	Self bool `json:"self,omitempty"`
	// Up reports whether this node has a live session with it.
	Up bool `json:"up"`
	// LastSeen is when this node last heard from it.
	LastSeen time.Time `json:"last_seen"`
}

// ErrNotClustered is returned by the cluster methods of a node started
// without Config.Cluster.
var ErrNotClustered = errors.New("this node is not in a cluster: set Config.Cluster (or isle up --node)")

// lookupAttempt bounds one lookup's wait for its answer.
const lookupAttempt = 2 * time.Second

// distMaxFrame is the largest batch distribution sends: isle's largest
// message with room to spare, within the embedded servers' max payload.
const distMaxFrame = 4 << 20

// The benchmarks measure raw NATS over a node's own connections, and cut
// a node off as a crash would, through this hook rather than isle's API.
func init() {
	benchhook.ClusterNode = func(v any) *cluster.Node {
		if n, ok := v.(*Node); ok && n.cluster != nil {
			return n.cluster.cl
		}
		return nil
	}
}

// clustering is a node's membership and distribution.
type clustering struct {
	cl *cluster.Node // set once cluster.Start returns; read-only after
	// live is cl, for the subscription's handler, which may run before
	// Start returns: a batch that arrives then (from an earlier
	// incarnation of a peer) is dropped.
	live atomic.Pointer[cluster.Node]
	d    *dist.Dist
	stop func()
	// batchHook, for tests, sees each batch before it is opened, and
	// takes it (to drop it, or present it later) by returning true.
	batchHook atomic.Pointer[func(*nats.Msg) bool]
}

// startCluster joins the cluster cfg describes.
func (n *Node) startCluster(ctx context.Context, cfg *ClusterConfig) error {
	c := &clustering{}
	var sub *nats.Subscription
	cc := cluster.Config{
		Cluster: cfg.Cluster, Name: cfg.Name, Listen: cfg.Listen, Advertise: cfg.Advertise, Join: cfg.Join,
		NATSURL: cfg.NATSURL, NATSOptions: cfg.NATSOptions, Heartbeat: cfg.Heartbeat, DownAfter: cfg.DownAfter,
		Logger: n.log,
		// This node's subject is subscribed before anyone can see it up.
		Ready: func(nc *nats.Conn) (err error) {
			maxFrame := distMaxFrame
			if mp := int(nc.MaxPayload()); mp > 0 && mp-256 < maxFrame {
				maxFrame = mp - 256
			}
			c.d = dist.New(dist.Config{Kernel: n.k, Self: cfg.Name, Send: c.send, MaxFrame: maxFrame,
				MaxExports: cfg.maxExports, Logger: n.log, Broken: c.broken})
			subject := "isle." + clusterName(cfg) + ".d." + cfg.Name + ".>"
			if sub, err = nc.Subscribe(subject, c.onBatch); err == nil {
				err = sub.SetPendingLimits(-1, 256<<20)
			}
			if err != nil {
				return fmt.Errorf("cluster: subscribing to this node's subject: %w", err)
			}
			return nil
		},
	}
	if cfg.Credentials != "" {
		creds, err := cluster.LoadCredentials(cfg.Credentials, cfg.Name)
		if err != nil {
			return err
		}
		cc.Creds = creds
	}
	cl, err := cluster.Start(ctx, cc)
	if err != nil {
		return err
	}
	c.cl = cl
	c.live.Store(cl)
	stopEvents := cl.OnChange(c.onChange)
	c.stop = func() { stopEvents(); _ = sub.Unsubscribe() }
	// Peers already up before the events were followed.
	for _, m := range cl.Members() {
		if m.Up && m.Name != cfg.Name {
			c.d.Up(m.Name, m.Session, m)
		}
	}
	n.cluster = c
	return nil
}

// clusterName is the cluster's name, as internal/cluster defaults it.
func clusterName(cfg *ClusterConfig) string {
	if cfg.Cluster == "" {
		return cluster.DefaultCluster
	}
	return cfg.Cluster
}

// onChange follows membership: a session up or down is one in dist.
func (c *clustering) onChange(ev cluster.Event) {
	switch ev.Kind {
	case cluster.Up:
		c.d.Up(ev.Member.Name, ev.Member.Session, ev.Member)
	case cluster.Down:
		reason := "node down"
		if ev.Reason == cluster.ReasonShutdown {
			reason = "node shut down"
		}
		c.d.Down(ev.Member.Name, ev.Member.Session, reason)
	}
}

// broken ends a session whose peer broke dist's protocol: the link is
// reset, and dist's Down follows from the event.
func (c *clustering) broken(peer string, session uint64, why string) {
	if cl := c.live.Load(); cl != nil {
		cl.EndSession(peer, session, why)
	}
}

// sealBufs are buffers for sealed batches: Publish copies what it is
// given, so one is free again once it returns.
var sealBufs = sync.Pool{New: func() any { return new([]byte) }}

// send publishes a batch on the link (a cluster.Member, as of its Up),
// sealed for that session, and stamped with the session on both sides:
// isle.C.d.TO.FROM.TOSESSION.FROMSESSION. dist has one writer per link,
// so batches are sealed and published in the same order.
func (c *clustering) send(link any, batch []byte) error {
	m := link.(cluster.Member)
	st := m.Stamp()
	cl := c.live.Load()
	buf := sealBufs.Get().(*[]byte)
	defer sealBufs.Put(buf)
	sealed, err := cl.Seal((*buf)[:0], m, batch)
	if errors.Is(err, cluster.ErrNoSession) {
		return nil // the session ended: its Down event follows, and nothing sent on it counts
	}
	if err != nil {
		return err
	}
	if cap(sealed) <= 2*dist.DefaultMaxBatch {
		*buf = sealed
	}
	subj := cl.Subject("d", m.Name, cl.Name(), strconv.FormatUint(st.To, 10), strconv.FormatUint(st.From, 10))
	return cl.Conn().Publish(subj, sealed)
}

// onBatch is the subscription's handler, which runs one batch at a time
// in the order they arrive: Open needs that.
func (c *clustering) onBatch(msg *nats.Msg) {
	if h := c.batchHook.Load(); h != nil && (*h)(msg) {
		return
	}
	c.openBatch(msg)
}

// openBatch hands a batch to dist if it opens as sent by the member its
// subject names, on the session its stamp names, and is the next one
// that member sealed (so dist gets each batch once, in order).
func (c *clustering) openBatch(msg *nats.Msg) {
	cl := c.live.Load()
	if cl == nil {
		return
	}
	tok := strings.Split(msg.Subject, ".")
	if len(tok) != 7 {
		return
	}
	from := tok[4]
	to, err1 := strconv.ParseUint(tok[5], 10, 64)
	fromSess, err2 := strconv.ParseUint(tok[6], 10, 64)
	if err1 != nil || err2 != nil {
		return
	}
	batch, err := cl.Open(from, cluster.Stamp{To: to, From: fromSess}, msg.Data)
	if err != nil {
		return // an ended session's, not from's (logged), or held back (ErrAhead)
	}
	if m, ok := cl.Peer(from); ok && m.Up && m.Session == to {
		c.d.Up(from, m.Session, m) // admitted before its Up event arrived
	}
	c.d.Deliver(from, to, batch)
}

// closeCluster leaves the cluster cleanly: peers see this node shut down.
func (n *Node) closeCluster(ctx context.Context) error {
	c := n.cluster
	if c == nil {
		return nil
	}
	c.stop()
	c.d.Close("this node shut down")
	return c.cl.Close(ctx)
}

// clustered returns the node's clustering, or ErrNotClustered.
func (n *Node) clustered() (*clustering, error) {
	if n.cluster == nil {
		return nil, ErrNotClustered
	}
	return n.cluster, nil
}

// Members returns every node of the cluster this node knows, itself
// included. It is nil for a node not in a cluster.
func (n *Node) Members() []Member {
	c, err := n.clustered()
	if err != nil {
		return nil
	}
	var ms []Member
	for _, m := range c.cl.Members() {
		self := m.Name == c.cl.Name()
		ms = append(ms, Member{Name: m.Name, Self: self, Up: m.Up || self, LastSeen: m.LastSeen})
	}
	return ms
}

// NodeName returns this node's name in its cluster, or "".
func (n *Node) NodeName() string {
	if n.cluster == nil {
		return ""
	}
	return n.cluster.cl.Name()
}

// Publish offers a process or service handle, or a spawner, to other
// nodes under name, to the nodes listed (every node, if none is). A node
// that looks it up gets a handle with c's rights, whose every use this
// node checks. Processes started through a published spawner run here,
// each the root of its own tree with 64 MiB of memory.
func (n *Node) Publish(name string, c Capability, nodes ...string) error {
	cs, err := n.clustered()
	if err != nil {
		return err
	}
	if c.kind != capkind.Process && c.kind != capkind.Spawner {
		return fmt.Errorf("publish %q: only a process or service handle or a spawner can be published (isle.ProcessCap, isle.ServiceCap, isle.SpawnerCap)", name)
	}
	obj, _, err := n.open(c)
	if err != nil {
		return fmt.Errorf("publish %q: %w", name, err)
	}
	kc := kernel.Cap{Kind: c.kind, Rights: c.rights, Object: obj, Rev: c.rev}
	var allow func(string) bool
	if len(nodes) > 0 {
		allow = func(node string) bool {
			for _, a := range nodes {
				if a == node {
					return true
				}
			}
			return false
		}
	}
	cs.d.Publish(name, kc, allow)
	return nil
}

// Lookup returns a handle to the service node publishes under name. It
// waits until node is up and publishes name to this node, or ctx ends.
func (n *Node) Lookup(ctx context.Context, node, name string) (*Remote, error) {
	cs, err := n.clustered()
	if err != nil {
		return nil, err
	}
	for {
		// Each attempt is bounded, so an answer lost with a session that
		// ended is asked for again.
		attempt, cancelAttempt := context.WithTimeout(ctx, lookupAttempt)
		c, err := cs.d.Lookup(attempt, node, name)
		cancelAttempt()
		if err == nil {
			return newRemote(n, node, c), nil
		}
		lost := errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil
		if !lost && !errors.Is(err, dist.ErrNoNode) && !errors.Is(err, dist.ErrRefused) {
			return nil, err
		}
		wait, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		_, werr := cs.cl.WaitPeer(wait, node)
		if werr == nil {
			<-wait.Done() // up, but not publishing yet: ask again shortly
		}
		cancel()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("lookup %q on node %q: %w (last: %v)", name, node, ctx.Err(), err)
		}
	}
}

// Remote is a handle to a process, a service or a spawner on another
// node. Grant it to a process with RemoteCap.
type Remote struct {
	n      *Node
	node   string
	kind   capkind.Kind
	obj    any                // *kernel.Remote or *kernel.RemoteSpawner
	r      *kernel.Remote     // nil for a spawner
	rev    *kernel.Revocation // the remote end's
	rights api.Rights
}

func newRemote(n *Node, node string, c kernel.Cap) *Remote {
	r := &Remote{n: n, node: node, kind: c.Kind, obj: c.Object, rev: c.Rev, rights: c.Rights}
	r.r, _ = c.Object.(*kernel.Remote)
	return r
}

// Node is the name of the node the target runs on.
func (r *Remote) Node() string { return r.node }

// errSpawner is a process operation on a remote spawner.
var errSpawner = errors.New("a spawner on another node is only for granting (RemoteCap): guests spawn with it")

// Send delivers a message to the remote target, waiting for room in the
// flow-control window until ctx is done. It fails with ErrGone once the
// target has ended or its node is lost.
func (r *Remote) Send(ctx context.Context, m Message) error {
	if m.Tag >= kernel.TagSystem {
		return fmt.Errorf("tag %#x is reserved for the system", m.Tag)
	}
	if err := r.check(api.RightSend); err != nil {
		return err
	}
	return mapErr(r.n.k.HostSend(ctx, r.r, kernel.NewMessage(m.Tag, m.Data), false))
}

// Spawner reports whether the handle is a spawner rather than a process
// or service.
func (r *Remote) Spawner() bool { return r.r == nil }

// Call sends a request to the remote target and waits for the reply until
// ctx is done.
func (r *Remote) Call(ctx context.Context, m Message) (Message, error) {
	if m.Tag >= kernel.TagSystem {
		return Message{}, fmt.Errorf("tag %#x is reserved for the system", m.Tag)
	}
	if err := r.check(api.RightSend); err != nil {
		return Message{}, err
	}
	return hostCall(ctx, r.n, r.r, m)
}

// Kill asks the remote target's node to kill it.
func (r *Remote) Kill(reason string) error {
	if err := r.check(api.RightKill); err != nil {
		return err
	}
	r.r.Kill(reason)
	return nil
}

func (r *Remote) check(need api.Rights) error {
	if r.r == nil {
		return errSpawner
	}
	c := kernel.Cap{Rights: r.rights, Rev: r.rev}
	return c.Check(need)
}

// closed is a channel that is never open, for a spawner's Done.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Done is closed when the remote target has ended or its node was lost;
// for a spawner, it is closed already.
func (r *Remote) Done() <-chan struct{} {
	if r.r == nil {
		return closed
	}
	return r.r.Done()
}

// Exit returns how the remote target ended (api.ExitNoConnection if its
// node was lost), once it has.
func (r *Remote) Exit() (api.Exit, bool) {
	if r.r == nil {
		return api.Exit{}, false
	}
	return r.r.Exit()
}

// RemoteCap grants a handle to a remote process, service or spawner, with
// rights within the Remote's own.
func RemoteCap(r *Remote, rights api.Rights) Capability {
	return Capability{kind: r.kind, rights: rights & r.rights, spec: r.obj, rev: r.rev}
}

// InitCluster makes the credentials of a cluster in dir: a new CA if dir
// has none, and a certificate and key for each node named. Keys are
// written 0600; the CA key stays in dir, and only the CA certificate and
// its own pair need to reach each node.
func InitCluster(dir string, nodes ...string) error {
	if _, err := os.Stat(filepath.Join(dir, "ca.crt")); errors.Is(err, fs.ErrNotExist) {
		if err := cluster.Init(dir); err != nil {
			return err
		}
	}
	for _, node := range nodes {
		if err := cluster.IssueNode(dir, node); err != nil {
			return err
		}
	}
	return nil
}

// ClusterAddr returns the address this node accepts cluster routes on,
// with the port it got if Listen asked for port 0; "" without routes.
func (n *Node) ClusterAddr() string {
	if n.cluster == nil {
		return ""
	}
	return n.cluster.cl.RouteAddr()
}

// Follow makes the service stand for one on other nodes: it binds the
// first Remote that find returns as the service's instance, and each time
// that one ends (its node lost, or given up there), asks find again, until
// ctx ends or the service is given up. Processes holding the service keep
// one handle throughout: messages sent while no instance is bound wait in
// the service (within a mailbox's bounds) and go to the next, in order. A
// call in flight when an instance is lost fails with ErrGone, as it does
// when a local instance crashes. find is called again after a failure,
// no more than every 100 ms.
func (s *Service) Follow(ctx context.Context, find func(ctx context.Context) (*Remote, error)) {
	for ctx.Err() == nil {
		select {
		case <-s.s.Done():
			return
		default:
		}
		r, err := find(ctx)
		if err != nil || r.r == nil {
			select {
			case <-ctx.Done():
			case <-s.s.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if err := s.s.Serve(ctx, r.r); err == nil {
			select {
			case <-r.Done():
			case <-ctx.Done():
			case <-s.s.Done():
			}
		}
		s.s.Unserve(r.r)
	}
}
