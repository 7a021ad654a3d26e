package isle_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/isle-run/isle"
	"github.com/isle-run/isle/api"
	"github.com/isle-run/isle/internal/testwasm"
)

// proxy forwards TCP to a target until paused: then it stops moving bytes
// without closing anything, as a silent partition does, until resumed.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	gate   chan struct{} // closed while forwarding
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, gate: make(chan struct{})}
	close(p.gate)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(t, c)
		}
	}()
	return p
}

func (p *proxy) serve(t *testing.T, c net.Conn) {
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	t.Cleanup(func() { c.Close(); u.Close() })
	go p.pipe(u, c)
	p.pipe(c, u)
}

// pipe copies from src to dst, waiting at the gate before each write.
func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		p.mu.Lock()
		gate := p.gate
		p.mu.Unlock()
		<-gate
		if _, err := dst.Write(buf[:n]); err != nil {
			src.Close()
			return
		}
	}
}

func (p *proxy) pause() {
	p.mu.Lock()
	p.gate = make(chan struct{})
	p.mu.Unlock()
}

func (p *proxy) resume() {
	p.mu.Lock()
	close(p.gate)
	p.mu.Unlock()
}

// A node cut off silently is declared down: links and monitors on its
// processes fire with noconnection. When the partition heals, the nodes
// meet again in new sessions, and handles from before stay dead.
func TestClusterPartitionHealsWithoutStaleHandles(t *testing.T) {
	creds := t.TempDir()
	if err := isle.InitCluster(creds, "a", "c"); err != nil {
		t.Fatal(err)
	}
	cfg := func(name, listen, advertise string, join ...string) isle.Config {
		return isle.Config{CacheDir: testwasm.NodeCache(t), Cluster: &isle.ClusterConfig{
			Name: name, Listen: listen, Advertise: advertise, Join: join, Credentials: creds,
			Heartbeat: 100 * time.Millisecond, DownAfter: time.Second}}
	}
	// c's routes are reached only through the proxy.
	port := freePort(t)
	px := newProxy(t, port)
	c, err := isle.NewNode(context.Background(), cfg("c", port, px.ln.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	a, err := isle.NewNode(context.Background(), cfg("a", "127.0.0.1:0", "", px.ln.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(context.Background()) })
	up := func(n *isle.Node, peer string, want bool) func() bool {
		return func() bool {
			for _, m := range n.Members() {
				if m.Name == peer {
					return m.Up == want
				}
			}
			return !want
		}
	}
	testwasm.WaitFor(t, "a to see c up", up(a, "c", true))

	pc := remoteProc(t, c, nil, 0)
	rc := publish(t, c, pc, "pc", a)
	pa := remoteProc(t, a, rc, api.RightSend|api.RightMonitor|api.RightKill)
	if got := ask(t, pa, rWatch); got[0] != 0 || got[1] <= 0 {
		t.Fatalf("link, monitor: %v", got)
	}
	px.pause()
	start := time.Now()
	for range 2 {
		tag, kind, text := exitEvent(t, ask(t, pa, rWait))
		if kind != uint32(api.ExitNoConnection) || text != "noconnection: node down" {
			t.Fatalf("signal %#x after the partition: kind %d %q", tag, kind, text)
		}
	}
	t.Logf("partition seen in %v", time.Since(start))
	testwasm.WaitFor(t, "c to see a down", up(c, "a", false))

	px.resume()
	testwasm.WaitFor(t, "a to see c up again", up(a, "c", true))
	testwasm.WaitFor(t, "c to see a up again", up(c, "a", true))
	if got := ask(t, pa, rCall, 1); got[0] != -2 {
		t.Fatalf("a handle from before the partition answered %d; want EGONE (-2)", got[0])
	}
	if exit, ok := rc.Exit(); !ok || exit.Kind != api.ExitNoConnection {
		t.Fatalf("the old handle's exit: %v, %v", exit, ok)
	}
	// pc itself may have died with the link from pa (if the link had
	// crossed before the cut): look up a process of the new session.
	pc2 := remoteProc(t, c, nil, 0)
	if err := c.Publish("pc2", isle.ProcessCap(pc2, api.RightSend)); err != nil {
		t.Fatal(err)
	}
	r2, err := a.Lookup(testwasm.Context(t), "c", "pc2")
	if err != nil {
		t.Fatal(err)
	}
	m, err := r2.Call(testwasm.Context(t), isle.Message{Tag: rEcho, Data: []byte("again")})
	if err != nil || string(m.Data) != "again" {
		t.Fatalf("a new handle after the partition healed: %q, %v", m.Data, err)
	}
}

// freePort returns a loopback address with a port nobody listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
