package isle_test

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// Tags of testdata/c/remote.c.
const (
	rEcho     = 1
	rCall     = 2
	rSend     = 3
	rGetCount = 5
	rWatch    = 6
	rWait     = 7
	rGive     = 8
	rCallKept = 10
	rRevoke   = 11
	rNarrow   = 12
	rKillPeer = 13
	rCrash    = 14
	rLink     = 15
	rGiveBad  = 17
	rSpawn    = 18
)

// testCluster starts nodes on loopback, joined in one cluster with its
// own credentials, and closes them when the test ends.
func testCluster(t *testing.T, names ...string) []*isle.Node {
	t.Helper()
	return testClusterWith(t, nil, names...)
}

// testClusterWith is testCluster, with each node's configuration passed
// through tweak first, if set.
func testClusterWith(t *testing.T, tweak func(*isle.ClusterConfig), names ...string) []*isle.Node {
	t.Helper()
	creds := t.TempDir()
	if err := isle.InitCluster(creds, names...); err != nil {
		t.Fatal(err)
	}
	var nodes []*isle.Node
	var join []string
	for _, name := range names {
		cc := &isle.ClusterConfig{Name: name, Listen: "127.0.0.1:0", Join: join, Credentials: creds,
			Heartbeat: 100 * time.Millisecond, DownAfter: time.Second}
		if tweak != nil {
			tweak(cc)
		}
		n, err := isle.NewNode(context.Background(), isle.Config{CacheDir: testwasm.NodeCache(t), Cluster: cc})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close(context.Background()) })
		nodes = append(nodes, n)
		join = append(join, n.ClusterAddr())
	}
	for _, n := range nodes {
		testwasm.WaitFor(t, n.NodeName()+" sees every node up", func() bool {
			up := 0
			for _, m := range n.Members() {
				if m.Up {
					up++
				}
			}
			return up == len(names)
		})
	}
	return nodes
}

// remoteProc spawns remote.c on node with peer (if any) granted as "peer".
func remoteProc(t *testing.T, node *isle.Node, peer *isle.Remote, rights api.Rights) *isle.Process {
	t.Helper()
	if peer == nil {
		return remoteProcWith(t, node, nil)
	}
	return remoteProcWith(t, node, map[string]isle.Capability{"peer": isle.RemoteCap(peer, rights)})
}

// publish offers p on its node as name, and looks it up from another.
func publish(t *testing.T, owner *isle.Node, p *isle.Process, name string, from *isle.Node) *isle.Remote {
	t.Helper()
	if err := owner.Publish(name, isle.ProcessCap(p, api.RightSend|api.RightMonitor|api.RightKill)); err != nil {
		t.Fatal(err)
	}
	r, err := from.Lookup(testwasm.Context(t), owner.NodeName(), name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ask calls p with tag and returns the int32 results it answers.
func ask(t *testing.T, p interface {
	Call(context.Context, isle.Message) (isle.Message, error)
}, tag uint32, args ...uint32) []int32 {
	t.Helper()
	var data []byte
	for _, w := range args {
		data = binary.LittleEndian.AppendUint32(data, w)
	}
	m, err := p.Call(testwasm.Context(t), isle.Message{Tag: tag, Data: data})
	if err != nil {
		t.Fatalf("call %d: %v", tag, err)
	}
	return words(m.Data)
}

// words decodes a reply of little-endian int32s.
func words(b []byte) []int32 {
	out := make([]int32, len(b)/4)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// exitEvent decodes what remote.c's T_WAIT answers: the signal's tag and
// its struct isle_exit.
func exitEvent(t *testing.T, w []int32) (tag uint32, kind uint32, text string) {
	t.Helper()
	if len(w) < 5 {
		t.Fatalf("event too short: %v", w)
	}
	raw := make([]byte, 0, 4*len(w))
	for _, x := range w[5:] {
		raw = binary.LittleEndian.AppendUint32(raw, uint32(x))
	}
	n := min(int(w[4]), len(raw))
	return uint32(w[0]), uint32(w[1]), string(raw[:n])
}

// Send and call work across nodes both ways, sends from one process to
// another arrive in order, and the Go host can call a remote target too.
func TestClusterSendAndCallBothWays(t *testing.T) {
	nodes := testCluster(t, "a", "b")
	a, b := nodes[0], nodes[1]
	pb := remoteProc(t, b, nil, 0)
	pa := remoteProc(t, a, publish(t, b, pb, "pb", a), api.RightSend)
	if got := ask(t, pa, rCall, 42); got[0] < 0 || got[1] != rEcho+100 || got[2] != 42 {
		t.Fatalf("a→b call: rc %d, tag %d, word %d; want an echo of 42 with tag %d", got[0], got[1], got[2], rEcho+100)
	}
	// The other way, through a handle b gets to a's process.
	pb2 := remoteProc(t, b, publish(t, a, pa, "pa", b), api.RightSend)
	if got := ask(t, pb2, rCall, 7); got[0] < 0 || got[1] != rEcho+100 || got[2] != 7 {
		t.Fatalf("b→a call: %v", got)
	}
	// The host calls a remote target directly.
	r := publish(t, b, pb, "pb-host", a)
	m, err := r.Call(testwasm.Context(t), isle.Message{Tag: rEcho, Data: []byte("hi")})
	if err != nil || m.Tag != rEcho+100 || string(m.Data) != "hi" {
		t.Fatalf("host call across nodes: %v %q, %v", m.Tag, m.Data, err)
	}
	// Ordered sends, more than the window holds.
	const n = 10000
	if got := ask(t, pa, rSend, n); got[0] < 0 {
		t.Fatalf("sends failed: %d", got[0])
	}
	var got []int32
	testwasm.WaitFor(t, "every send to arrive", func() bool {
		got = ask(t, pb, rGetCount)
		return got[0] >= n
	})
	if got[0] != n || got[1] != 0 {
		t.Fatalf("%d sends arrived, %d out of order; want %d in order", got[0], got[1], n)
	}
	// The largest message crosses whole.
	big := make([]byte, 1<<20)
	binary.LittleEndian.PutUint32(big, n)
	if err := r.Send(testwasm.Context(t), isle.Message{Tag: 4, Data: big}); err != nil {
		t.Fatalf("a 1 MiB message across nodes: %v", err)
	}
	testwasm.WaitFor(t, "the 1 MiB message", func() bool { return ask(t, pb, rGetCount)[0] == n+1 })
	// Only process handles cross: a revoker refuses, and stays with its sender.
	if got := ask(t, pa, rGiveBad); got[0] != -10 || got[1] != -10 || got[2] != 0 || got[3] != 10 {
		t.Fatalf("call and send carrying a revoker across nodes: %d, %d; still held: %d, kind %d; want EDENIED (-10) twice, held, kind 10", got[0], got[1], got[2], got[3])
	}
}

// A handle crosses nodes in a message and works from there, back to its
// owner; a revoked forwarder stops working on the other node at once.
func TestClusterHandlesCrossNodesAndRevoke(t *testing.T) {
	nodes := testCluster(t, "a", "b")
	a, b := nodes[0], nodes[1]
	pb := remoteProc(t, b, nil, 0)
	pa := remoteProc(t, a, publish(t, b, pb, "pb", a), api.RightSend)

	if got := ask(t, pa, rGive, 0); got[0] < 0 {
		t.Fatalf("giving a handle across nodes: %d", got[0])
	}
	if got := ask(t, pb, rCallKept); got[0] < 0 || got[1] != rEcho+100 {
		t.Fatalf("b calling a through the handle it was sent: %v", got)
	}
	// A revocable forwarder: it works until revoked, then refuses.
	if got := ask(t, pa, rGive, 1); got[0] < 0 {
		t.Fatalf("giving a revocable handle: %d", got[0])
	}
	if got := ask(t, pb, rCallKept); got[0] < 0 {
		t.Fatalf("before the revocation: %v", got)
	}
	if got := ask(t, pa, rRevoke); got[0] != 0 {
		t.Fatalf("revoke: %d", got[0])
	}
	if got := ask(t, pb, rCallKept); got[0] != -6 {
		t.Fatalf("a call through a revoked forwarder on another node returned %d; want EREVOKED (-6)", got[0])
	}
}

// A handle narrowed to send on the way across refuses kill, monitor and
// link on the other node, as it would locally, and still sends.
func TestClusterAttenuationHolds(t *testing.T) {
	nodes := testCluster(t, "a", "b")
	a, b := nodes[0], nodes[1]
	pb := remoteProc(t, b, nil, 0)
	pa := remoteProc(t, a, publish(t, b, pb, "pb", a), api.RightSend|api.RightMonitor|api.RightKill)
	got := ask(t, pa, rNarrow)
	if got[0] != -5 || got[1] != -5 || got[2] != -5 {
		t.Fatalf("kill, monitor, link through a send-only handle: %v; want ERIGHTS (-5) each", got[:3])
	}
	if got[3] < 0 || got[4] != rEcho+100 {
		t.Fatalf("call through the narrowed handle: rc %d tag %d", got[3], got[4])
	}
	if ended(pb) {
		t.Fatal("the narrowed handle killed its target")
	}
}

func ended(p *isle.Process) bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}

// Links and monitors across nodes see a remote crash with its reason, and
// a link carries a crash the other way too.
func TestClusterLinksAndMonitorsSeeCrashes(t *testing.T) {
	nodes := testCluster(t, "a", "b")
	a, b := nodes[0], nodes[1]
	seesCrash(t, a, b, "pb")
	seesCrash(t, b, a, "pa1") // the other way

	// A process on a linked to one on b crashes: b's is killed by the link.
	pb2 := remoteProc(t, b, nil, 0)
	pa2 := remoteProc(t, a, publish(t, b, pb2, "pb2", a), api.RightSend|api.RightKill)
	if got := ask(t, pa2, rLink); got[0] != 0 {
		t.Fatalf("link: %d", got[0])
	}
	go func() { _, _ = pa2.Call(context.Background(), isle.Message{Tag: rCrash}) }()
	exit, err := pb2.Wait(testwasm.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if exit.Kind != api.ExitKilled || !strings.Contains(exit.Killed, "link") {
		t.Fatalf("the linked process on b ended %v; want killed by the link", exit)
	}

	// Kill through a remote handle.
	pb3 := remoteProc(t, b, nil, 0)
	pa3 := remoteProc(t, a, publish(t, b, pb3, "pb3", a), api.RightSend|api.RightKill)
	if got := ask(t, pa3, rKillPeer); got[0] != 0 {
		t.Fatalf("kill across nodes: %d", got[0])
	}
	if exit, err := pb3.Wait(testwasm.Context(t)); err != nil || exit.Kind != api.ExitKilled {
		t.Fatalf("killed across nodes: %v %v", exit, err)
	}
}

// When a node is lost, links and monitors on its processes fire with
// noconnection, calls in flight fail with EGONE, and handles to it stay
// dead; a clean shutdown says so.
func TestClusterNodeLossIsNoConnection(t *testing.T) {
	nodes := testCluster(t, "a", "b", "c")
	a, b, c := nodes[0], nodes[1], nodes[2]
	pb := remoteProc(t, b, nil, 0)
	rb := publish(t, b, pb, "pb", a)
	pa := remoteProc(t, a, rb, api.RightSend|api.RightMonitor|api.RightKill)
	if got := ask(t, pa, rWatch); got[0] != 0 || got[1] <= 0 {
		t.Fatalf("link, monitor: %v", got)
	}
	// A call b's process will never answer, in flight when b is lost.
	inflight := make(chan error, 1)
	go func() {
		_, err := rb.Call(context.Background(), isle.Message{Tag: rWait})
		inflight <- err
	}()
	// Wait until b holds the call, so it is truly in flight.
	testwasm.WaitFor(t, "b's process to hold the call", func() bool {
		d, err := b.Inspect(pb.ID())
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range d.Handles {
			if h.Kind == "reply" {
				return true
			}
		}
		return false
	})
	isle.KillClusterForTest(b) // silent: no goodbye
	start := time.Now()
	for range 2 {
		tag, kind, text := exitEvent(t, ask(t, pa, rWait))
		if kind != uint32(api.ExitNoConnection) || text != "noconnection: node down" {
			t.Fatalf("signal %#x: kind %d %q; want noconnection (5), node down", tag, kind, text)
		}
	}
	t.Logf("silent node loss seen in %v", time.Since(start))
	select {
	case err := <-inflight:
		if !errors.Is(err, isle.ErrGone) {
			t.Fatalf("call in flight to a lost node: %v; want ErrGone", err)
		}
	case <-testwasm.Context(t).Done():
		t.Fatal("a call in flight to a lost node never failed")
	}
	if exit, ok := rb.Exit(); !ok || exit.Kind != api.ExitNoConnection {
		t.Fatalf("the remote handle's exit: %v %v", exit, ok)
	}
	if got := ask(t, pa, rCall, 1); got[0] != -2 {
		t.Fatalf("a call through a handle to a lost node returned %d; want EGONE (-2)", got[0])
	}

	// A clean shutdown.
	pc := remoteProc(t, c, nil, 0)
	pa2 := remoteProc(t, a, publish(t, c, pc, "pc", a), api.RightSend|api.RightMonitor)
	if got := ask(t, pa2, rWatch); got[1] <= 0 {
		t.Fatalf("monitor: %v", got)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	tag, kind, text := exitEvent(t, ask(t, pa2, rWait))
	if tag != 0xFFFF0002 || kind != uint32(api.ExitNoConnection) || text != "noconnection: node shut down" {
		t.Fatalf("after a clean shutdown: signal %#x kind %d %q", tag, kind, text)
	}
}

// A process spawns on another node only through a spawner that node
// published and its own host granted; the child is linked to it across
// nodes, and dies with the link when its spawner's node is lost.
func TestClusterRemoteSpawn(t *testing.T) {
	nodes := testCluster(t, "a", "b")
	a, b := nodes[0], nodes[1]
	mod := load(t, b, testwasm.C(t, "testdata/c/remote.c", "-O2", "-mexec-model=reactor"))
	if err := b.Publish("workers", isle.SpawnerCap(map[string]*isle.Module{"remote": mod}), "a"); err != nil {
		t.Fatal(err)
	}
	r, err := a.Lookup(testwasm.Context(t), "b", "workers")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Spawner() {
		t.Fatal("a published spawner looked up as a process")
	}
	if _, err := r.Call(testwasm.Context(t), isle.Message{Tag: rEcho}); err == nil {
		t.Fatal("the host called a spawner")
	}
	amod := load(t, a, testwasm.C(t, "testdata/c/remote.c", "-O2", "-mexec-model=reactor"))
	pa, err := a.Spawn(testwasm.Context(t), amod, isle.Grants{Caps: map[string]isle.Capability{
		"spawner": isle.RemoteCap(r, api.RightUse)}}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	before := b.Processes()
	got := ask(t, pa, rSpawn)
	if got[0] < 0 || got[1] < 0 || got[2] != rEcho+100 {
		t.Fatalf("spawn on b and call the child: handle %d, rc %d, tag %d", got[0], got[1], got[2])
	}
	if n := b.Processes(); n != before+1 {
		t.Fatalf("b runs %d processes after the remote spawn; want %d", n, before+1)
	}
	// Without a spawner, nothing spawns: a process with none gets ENOTFOUND.
	plain := remoteProc(t, a, nil, 0)
	if got := ask(t, plain, rSpawn); got[0] != -8 {
		t.Fatalf("a spawn with no spawner granted returned %d; want ENOTFOUND (-8)", got[0])
	}

	isle.KillClusterForTest(a)
	testwasm.WaitFor(t, "the child on b to die with its link to the lost node", func() bool {
		for _, e := range b.RecentExits() {
			if strings.Contains(e.Exit, "link: noconnection") {
				return true
			}
		}
		return false
	})
}

// A service that follows remote instances keeps one handle for its users
// while the instance behind it moves: when b is lost, the service is
// served from c, and a call through the same handle works again.
func TestClusterServiceFollowsAcrossNodeLoss(t *testing.T) {
	nodes := testCluster(t, "a", "b", "c")
	a, b, c := nodes[0], nodes[1], nodes[2]
	for _, n := range []*isle.Node{b, c} {
		p := remoteProc(t, n, nil, 0)
		if err := n.Publish("counter", isle.ProcessCap(p, api.RightSend|api.RightMonitor)); err != nil {
			t.Fatal(err)
		}
	}
	svc := a.NewService("counter")
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go svc.Follow(ctx, func(ctx context.Context) (*isle.Remote, error) {
		for _, name := range []string{"b", "c"} {
			for _, m := range a.Members() {
				if m.Name == name && m.Up {
					quick, cancel := context.WithTimeout(ctx, 2*time.Second)
					r, err := a.Lookup(quick, name, "counter")
					cancel()
					if err == nil {
						return r, nil
					}
				}
			}
		}
		return nil, errors.New("no node serves counter")
	})
	user := remoteProcWith(t, a, map[string]isle.Capability{"peer": isle.ServiceCap(svc, api.RightSend|api.RightMonitor)})
	if got := ask(t, user, rCall, 5); got[0] < 0 || got[2] != 5 {
		t.Fatalf("a call through the following service: %v", got)
	}
	isle.KillClusterForTest(b)
	// The next calls fail while the instance is lost, then reach c's.
	testwasm.WaitFor(t, "the service to be served from c", func() bool {
		got := ask(t, user, rCall, 6)
		return got[0] >= 0 && got[2] == 6
	})
	select {
	case <-svc.Done():
		t.Fatal("the service ended when one instance's node was lost")
	default:
	}
}

// seesCrash checks that a process on watcher, linked to and monitoring
// one on owner, gets both signals with the reason when that one crashes.
func seesCrash(t *testing.T, watcher, owner *isle.Node, name string) {
	t.Helper()
	target := remoteProc(t, owner, nil, 0)
	w := remoteProc(t, watcher, publish(t, owner, target, name, watcher), api.RightSend|api.RightMonitor|api.RightKill)
	if got := ask(t, w, rWatch); got[0] != 0 || got[1] <= 0 {
		t.Fatalf("link, monitor from %s to %s: %v", watcher.NodeName(), owner.NodeName(), got)
	}
	go func() { _, _ = target.Call(context.Background(), isle.Message{Tag: rCrash}) }()
	for range 2 {
		tag, kind, text := exitEvent(t, ask(t, w, rWait))
		if kind != 2 || !strings.Contains(text, "unreachable") {
			t.Fatalf("%s's signal %#x: kind %d %q; want an abandonment (2) for unreachable", watcher.NodeName(), tag, kind, text)
		}
	}
}

// remoteProcWith spawns remote.c on node with caps granted.
func remoteProcWith(t *testing.T, node *isle.Node, caps map[string]isle.Capability) *isle.Process {
	t.Helper()
	mod := load(t, node, testwasm.C(t, "testdata/c/remote.c", "-O2", "-mexec-model=reactor"))
	p, err := node.Spawn(testwasm.Context(t), mod, isle.Grants{Caps: caps}, isle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
