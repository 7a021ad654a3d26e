package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// threeNodes starts A, B joining A, C joining A and B, and waits until
// all see each other Up.
func threeNodes(t *testing.T) (a, b, c *Node, w *logWatch) {
	t.Helper()
	w = newLogWatch(t)
	ca := newTestCA(t)
	a = start(t, cfgFor(t, ca, w, "a"))
	b = start(t, cfgFor(t, ca, w, "b", a.RouteAddr()))
	c = start(t, cfgFor(t, ca, w, "c", a.RouteAddr(), b.RouteAddr()))
	waitUp(t, a, b, c)
	return a, b, c, w
}

func TestThreeNodesJoin(t *testing.T) {
	a, b, c, _ := threeNodes(t)
	for _, n := range []*Node{a, b, c} {
		ms := n.Members()
		if len(ms) != 3 || ms[0].Name != n.Name() {
			t.Fatalf("%s: members %+v, want self first and 3 in all", n.Name(), ms)
		}
		for _, m := range ms[1:] {
			if !m.Up || m.Session == 0 || m.PeerSession == 0 || m.Incarnation == 0 {
				t.Errorf("%s: member %+v not Up with sessions and incarnation", n.Name(), m)
			}
			// The two ends agree on the link's session numbers.
			other := map[string]*Node{"a": a, "b": b, "c": c}[m.Name]
			back, _ := other.Peer(n.Name())
			if back.Session != m.PeerSession || back.PeerSession != m.Session {
				t.Errorf("%s sees %s as %+v, but %s sees %s as %+v", n.Name(), m.Name, m, m.Name, n.Name(), back)
			}
		}
	}
	if a.Incarnation() == b.Incarnation() || a.Subject("x", "y") != "isle.test.x.y" {
		t.Fatalf("incarnations %d %d, subject %q", a.Incarnation(), b.Incarnation(), a.Subject("x", "y"))
	}
}

// TestOrderingAcrossRoute checks the guarantee the kernel relies on:
// messages one connection publishes on one subject reach a subscriber on
// another node in the order published.
func TestOrderingAcrossRoute(t *testing.T) {
	a, _, c, _ := threeNodes(t)
	const count = 5000
	subj := c.Subject("order")
	got := make(chan uint32, count)
	sub, err := c.Conn().Subscribe(subj, func(m *nats.Msg) {
		if m.Reply != "" {
			m.Respond(nil) // waitInterest's probe
			return
		}
		got <- binary.BigEndian.Uint32(m.Data)
	})
	must(t, err, "subscribe")
	sub.SetPendingLimits(-1, -1)
	waitInterest(t, a.Conn(), subj)
	var buf [4]byte
	for i := range uint32(count) {
		binary.BigEndian.PutUint32(buf[:], i)
		must(t, a.Conn().Publish(subj, buf[:]), "publish %d", i)
	}
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for want := range uint32(count) {
		select {
		case n := <-got:
			if n != want {
				t.Fatalf("message %d arrived when %d was due", n, want)
			}
		case <-timer.C:
			t.Fatalf("only %d of %d messages arrived within %v", want, count, deadline)
		}
	}
}

func TestRequestReplyAcrossRoutes(t *testing.T) {
	a, b, _, _ := threeNodes(t)
	subj := b.Subject("echo")
	_, err := b.Conn().Subscribe(subj, func(m *nats.Msg) { m.Respond(append([]byte("b:"), m.Data...)) })
	must(t, err, "subscribe")
	waitInterest(t, a.Conn(), subj)
	reply, err := a.Conn().RequestWithContext(waitCtx(t), subj, []byte("hi"))
	must(t, err, "request")
	if string(reply.Data) != "b:hi" {
		t.Fatalf("reply %q, want %q", reply.Data, "b:hi")
	}
}

func TestKillIsNoConnection(t *testing.T) {
	a, b, c, _ := threeNodes(t)
	ra, rb := record(a), record(b)
	before, _ := a.Peer("c")
	c.Kill()
	e, _ := ra.wait(t, 0, Down, "c", ReasonNoConnection)
	rb.wait(t, 0, Down, "c", ReasonNoConnection)
	if e.Member.Session != before.Session || e.Member.Incarnation != c.Incarnation() {
		t.Fatalf("Down event %+v does not name the session that ended (%+v)", e.Member, before)
	}
	if m, _ := a.Peer("c"); m.Up || m.Session != 0 {
		t.Fatalf("after Down, a sees c as %+v", m)
	}
	if _, err := c.WaitPeer(waitCtx(t), "a"); !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitPeer on a killed node: %v, want ErrClosed", err)
	}
}

func TestCloseIsShutdown(t *testing.T) {
	a, b, c, _ := threeNodes(t)
	ra, rb, rc := record(a), record(b), record(c)
	ctx := waitCtx(t)
	must(t, c.Close(ctx), "close c")
	ra.wait(t, 0, Down, "c", ReasonShutdown)
	rb.wait(t, 0, Down, "c", ReasonShutdown)
	// The closing node ends its own links too, so its state is dropped.
	rc.wait(t, 0, Down, "a", ReasonShutdown)
	rc.wait(t, 0, Down, "b", ReasonShutdown)
	if err := c.Close(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
}

// TestRestartIsNewMember: a node restarted under the same name is a new
// incarnation; the old one goes Down and the new one comes Up on a new
// session.
func TestRestartIsNewMember(t *testing.T) {
	w := newLogWatch(t)
	ca := newTestCA(t)
	a := start(t, cfgFor(t, ca, w, "a"))
	b := start(t, cfgFor(t, ca, w, "b", a.RouteAddr()))
	waitUp(t, a, b)
	ra := record(a)
	old, _ := a.Peer("b")
	b.Kill()
	b2 := start(t, cfgFor(t, ca, w, "b", a.RouteAddr()))
	d, i := ra.wait(t, 0, Down, "b", ReasonNoConnection)
	u, _ := ra.wait(t, i, Up, "b", "")
	if d.Member.Incarnation != b.Incarnation() || u.Member.Incarnation != b2.Incarnation() {
		t.Fatalf("Down %+v, Up %+v: want incarnations %d then %d", d.Member, u.Member, b.Incarnation(), b2.Incarnation())
	}
	if u.Member.Session <= old.Session {
		t.Fatalf("new session %d not after old %d", u.Member.Session, old.Session)
	}
}

func TestOnChangeCancel(t *testing.T) {
	w := newLogWatch(t)
	ca := newTestCA(t)
	a := start(t, cfgFor(t, ca, w, "a"))
	called := make(chan Event, 16)
	cancel := a.OnChange(func(e Event) { called <- e })
	cancel()
	r := record(a)
	b := start(t, cfgFor(t, ca, w, "b", a.RouteAddr()))
	r.wait(t, 0, Up, "b", "")
	_ = b
	select {
	case e := <-called:
		t.Fatalf("cancelled function called with %+v", e)
	default:
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	ctx := context.Background()
	ca := newTestCA(t)
	cases := []struct {
		cfg  Config
		want error
	}{
		{Config{Name: "a.b"}, ErrBadName},
		{Config{Name: ""}, ErrBadName},
		{Config{Name: "a", Cluster: "x y"}, ErrBadName},
		{Config{Name: "a", Listen: "127.0.0.1:0"}, ErrNoCredentials},
		{Config{Name: "a", Join: []string{"127.0.0.1:1"}}, ErrBadConfig},
		{Config{Name: "a", Heartbeat: time.Second, DownAfter: time.Second}, ErrBadConfig},
		{Config{Name: "a", NATSURL: "nats://x", Listen: ":1"}, ErrBadConfig},
		{Config{Name: "a", Listen: "nope"}, ErrBadConfig},
		{Config{Name: "a", Listen: "127.0.0.1:0", Creds: ca.creds(t, "b")}, ErrBadCredentials},
	}
	for _, c := range cases {
		n, err := Start(ctx, c.cfg)
		if !errors.Is(err, c.want) {
			if n != nil {
				n.Kill()
			}
			t.Errorf("Start(%+v): %v, want %v", c.cfg, err, c.want)
		}
	}
}

// TestUnreachableJoin: a Join address nobody listens on does not fail
// Start; the server keeps trying, and the failure is logged.
func TestUnreachableJoin(t *testing.T) {
	w := newLogWatch(t)
	ca := newTestCA(t)
	dead := start(t, cfgFor(t, ca, w, "dead"))
	addr := dead.RouteAddr()
	dead.Kill() // frees a port we know nobody listens on now
	a := start(t, cfgFor(t, ca, w, "a", addr))
	w.wait(t, "node=a", "Error trying to connect to route")
	if _, ok := a.Peer("dead"); ok {
		t.Fatal("a knows a node it never reached")
	}
}
