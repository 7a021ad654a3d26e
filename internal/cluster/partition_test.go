package cluster

import (
	"net"
	"sync"
	"testing"
)

// proxy forwards TCP connections to a target. Cutting it stops the
// forwarding without closing anything, as a partition would: bytes wait
// in the proxy and the kernel until it is healed.
type proxy struct {
	ln     net.Listener
	ready  chan struct{} // closed once target is set
	mu     sync.Mutex
	target string
	cut    bool
	healed chan struct{} // closed when the cut is healed
	conns  []net.Conn
}

func newProxy(t *testing.T) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err, "proxy listen")
	p := &proxy{ln: ln, ready: make(chan struct{}), healed: make(chan struct{})}
	close(p.healed)
	t.Cleanup(p.close)
	go p.accept()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// setTarget sets where to forward; connections accepted before wait.
func (p *proxy) setTarget(addr string) {
	p.mu.Lock()
	p.target = addr
	p.mu.Unlock()
	close(p.ready)
}

func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cut == p.cut {
		return
	}
	p.cut = cut
	if cut {
		p.healed = make(chan struct{})
	} else {
		close(p.healed)
	}
}

// wait blocks while the proxy is cut.
func (p *proxy) wait() {
	p.mu.Lock()
	h := p.healed
	p.mu.Unlock()
	<-h
}

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		<-p.ready
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		d, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, d)
		p.mu.Unlock()
		go p.pipe(c, d)
		go p.pipe(d, c)
	}
}

func (p *proxy) pipe(from, to net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		p.wait()
		n, err := from.Read(buf)
		if n > 0 {
			p.wait() // read before the cut: hold it until healed
			if _, werr := to.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			to.Close()
			return
		}
	}
}

func (p *proxy) close() {
	p.setCut(false)
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// TestPartitionHeals cuts c off from a and b, which stay connected
// directly, and heals it. Every route involving c runs through a proxy:
// each node advertises its proxy, c joins through a's, and a and b are
// joined directly before c exists.
func TestPartitionHeals(t *testing.T) {
	w := newLogWatch(t)
	ca := newTestCA(t)
	pa, pb, pc := newProxy(t), newProxy(t), newProxy(t)
	cut := func(on bool) {
		for _, p := range []*proxy{pa, pb, pc} {
			p.setCut(on)
		}
	}
	cfgA := cfgFor(t, ca, w, "a")
	cfgA.Advertise = pa.addr()
	a := start(t, cfgA)
	pa.setTarget(a.RouteAddr())
	cfgB := cfgFor(t, ca, w, "b", a.RouteAddr())
	cfgB.Advertise = pb.addr()
	b := start(t, cfgB)
	pb.setTarget(b.RouteAddr())
	waitUp(t, a, b)
	cfgC := cfgFor(t, ca, w, "c", pa.addr())
	cfgC.Advertise = pc.addr()
	c := start(t, cfgC)
	pc.setTarget(c.RouteAddr())
	waitUp(t, a, b, c)

	ra, rb, rc := record(a), record(b), record(c)
	ac, _ := a.Peer("c")
	bc, _ := b.Peer("c")
	ca1, _ := c.Peer("a")
	cb, _ := c.Peer("b")

	cut(true)
	_, ia := ra.wait(t, 0, Down, "c", ReasonNoConnection)
	_, ib := rb.wait(t, 0, Down, "c", ReasonNoConnection)
	_, ica := rc.wait(t, 0, Down, "a", ReasonNoConnection)
	_, icb := rc.wait(t, 0, Down, "b", ReasonNoConnection)

	cut(false)
	upA, _ := ra.wait(t, ia, Up, "c", "")
	upB, _ := rb.wait(t, ib, Up, "c", "")
	upCA, _ := rc.wait(t, ica, Up, "a", "")
	upCB, _ := rc.wait(t, icb, Up, "b", "")
	waitUp(t, a, b, c)

	for _, x := range []struct {
		who      string
		old, new Member
	}{{"a→c", ac, upA.Member}, {"b→c", bc, upB.Member}, {"c→a", ca1, upCA.Member}, {"c→b", cb, upCB.Member}} {
		if x.new.Session <= x.old.Session || x.new.PeerSession == x.old.PeerSession {
			t.Errorf("%s: after healing, sessions %d/%d; before %d/%d: want both new", x.who, x.new.Session, x.new.PeerSession, x.old.Session, x.old.PeerSession)
		}
	}
	// No Up ever names an ended session again.
	for _, r := range []*recorder{ra, rb, rc} {
		ended := map[uint64]bool{}
		for _, e := range r.events() {
			if e.Kind == Up && ended[e.Member.Session] {
				t.Errorf("%s: Up %+v revives an ended session", r.name, e.Member)
			}
			if e.Kind == Down {
				ended[e.Member.Session] = true
			}
		}
	}
	// An old stamp is refused, the new one admitted.
	if a.Admit("c", ca1.Stamp()) {
		t.Error("a admitted a message stamped with c's ended session")
	}
	cNow, _ := c.Peer("a")
	if !a.Admit("c", cNow.Stamp()) {
		t.Errorf("a refused c's current stamp %+v", cNow.Stamp())
	}
}
